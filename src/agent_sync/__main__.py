from agent_sync.cli import console

console()
