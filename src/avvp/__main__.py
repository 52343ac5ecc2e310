from avvp.cli import main

raise SystemExit(main())
