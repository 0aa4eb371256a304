from gitops_mcp.cli import main

raise SystemExit(main())
