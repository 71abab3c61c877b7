"""A run's files on disk: their names (`run_files`) and checkpoints written atomically and read back (`store`)."""
