"""The `seqtrain` command line: one module per subcommand."""
