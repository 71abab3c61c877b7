from bench.gpu.cli import main

raise SystemExit(main())
