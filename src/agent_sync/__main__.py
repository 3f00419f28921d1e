from agent_sync.cli import main

raise SystemExit(main())
