"""MCP latency: tool calls to one running `agent-sync mcp` (200 calls per tool), next to the same operations
through the CLI, the server's start-up (spawn to the first tools/list answer), and the size of that answer.

Run: python bench/bench_mcp.py [--runs N] [--warmup N]   (--runs: CLI runs per case; MCP calls are 200 per tool)
"""

import json
import math
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c  # noqa: E402

CALLS = 200  # measured MCP calls per tool, spread over the rounds
SPAWNS = 5  # measured server start-ups
BUDGET = 5000
MCP_AGENT, CLI_AGENT = "bench-mcp", "bench-cli"
# (label, MCP tool, its arguments, the same operation on the command line)
OPERATIONS = [
    ("locks", "locks", {}, ["locks"]),
    ("status compact", "status", {"compact": True}, ["status", "--compact"]),
]


class Raw:
    """A minimal MCP client: JSON-RPC lines over the server's stdin and stdout, as a host's own client speaks it."""

    def __init__(self, root: str):
        self.proc = subprocess.Popen([c.SCRIPT, "mcp"], cwd=root, env=c.clean_env(MCP_AGENT), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.next_id = 0

    def request(self, method: str, params: dict | None = None) -> tuple[str, dict]:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"the MCP server ended while answering {method}")
            answer = json.loads(line)
            if answer.get("id") == self.next_id:
                if "error" in answer or answer.get("result", {}).get("isError"):
                    raise SystemExit(f"MCP {method} {params} failed: {line[:500]}")
                return line.rstrip("\n"), answer["result"]

    def start(self) -> str:
        """Initialize and list the tools; returns the tools/list answer line as it came over the wire."""
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "0"}})
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        return self.request("tools/list")[0]

    def call(self, tool: str, arguments: dict) -> None:
        self.request("tools/call", {"name": tool, "arguments": arguments})

    def close(self) -> None:
        self.proc.stdin.close()
        if self.proc.wait(timeout=60) != 0:
            raise SystemExit(f"the MCP server exited with {self.proc.returncode}")


def seed(root: str) -> None:
    """100 live locks of 4 agents, 20 tasks and a few messages, through the core."""
    from agent_sync.core import locks, messages, tasks

    for n, holder in enumerate(c.HOLDERS):
        ctx = c.open_ctx(root, holder)
        try:
            locks.lock(ctx, [f"pkg{n}/mod{i}.py" for i in range(25)], reason="bench")
            for i in range(5):
                tasks.create(ctx, f"task {n}-{i}", files=[f"pkg{n}/mod{i}.py"], priority=i)
            messages.send(ctx, "all", f"hello from {holder}")
        finally:
            ctx.store.close()


def spawn_times(root: str) -> tuple[list[float], str]:
    """Seconds from spawning the server to its first tools/list answer (a host's start-up cost), SPAWNS times."""
    times, line = [], ""
    for n in range(SPAWNS + 1):
        start = time.perf_counter()
        client = Raw(root)
        line = client.start()
        elapsed = time.perf_counter() - start
        client.close()
        if n:  # the first one warms the page cache
            times.append(elapsed)
    return times, line


def measure(root: str, args) -> tuple[dict[str, list[float]], list[float]]:
    """Round-robin: each round runs the floor and the CLI cases once, then its share of the MCP calls (raw
    client, then the SDK's own client), so drift on the machine hits every row alike."""
    import anyio
    from mcp import Client, StdioServerParameters

    cli_cases = [c.Case(f"CLI `agent-sync {' '.join(argv)}`", [c.SCRIPT, *argv], cwd=root, agent=CLI_AGENT)
                 for _label, _tool, _arguments, argv in OPERATIONS]
    floor = c.floor_case()
    per_round = math.ceil(CALLS / args.runs)
    samples: dict[str, list[float]] = {case.label: [] for case in cli_cases}
    floor_samples: list[float] = []
    for label, *_rest in OPERATIONS:
        samples[f"MCP `{label}`, raw stdio client"] = []
        samples[f"MCP `{label}`, SDK client"] = []

    async def main() -> None:
        raw = Raw(root)
        raw.start()
        params = StdioServerParameters(command=c.SCRIPT, args=["mcp"], env=c.clean_env(MCP_AGENT), cwd=root)
        async with Client(params, mode="legacy", cache=None) as sdk:
            await sdk.list_tools()
            for round_no in range(args.warmup + args.runs):
                measured = round_no >= args.warmup
                elapsed = floor.run_once()
                if measured:
                    floor_samples.append(elapsed)
                for case in cli_cases:
                    elapsed = case.run_once()
                    if measured:
                        samples[case.label].append(elapsed)
                for label, tool, arguments, _argv in OPERATIONS:
                    raw_rows = samples[f"MCP `{label}`, raw stdio client"]
                    sdk_rows = samples[f"MCP `{label}`, SDK client"]
                    for _ in range(per_round):
                        start = time.perf_counter()
                        raw.call(tool, arguments)
                        elapsed = time.perf_counter() - start
                        if measured and len(raw_rows) < CALLS:
                            raw_rows.append(elapsed)
                        start = time.perf_counter()
                        result = await sdk.call_tool(tool, arguments)
                        elapsed = time.perf_counter() - start
                        if result.is_error:
                            raise SystemExit(f"MCP {tool} failed: {result.content[0].text}")
                        if measured and len(sdk_rows) < CALLS:
                            sdk_rows.append(elapsed)
        raw.close()

    anyio.run(main)
    return samples, floor_samples


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise SystemExit("bench_mcp needs the MCP SDK in this interpreter: pip install 'agent-sync[mcp]'") from None
    c.preamble("bench_mcp: MCP tool calls next to the CLI", args,
               f"- database: 100 live locks of 4 agents, 20 tasks, 4 broadcasts; the MCP server is `{c.SCRIPT} mcp`, "
               f"one session per client for all {CALLS} calls of each tool; the raw client writes JSON-RPC lines "
               "to its stdin as a host does, the SDK client is the `mcp` package's own `Client` (its Python "
               f"overhead included); start-up is spawn to the first `tools/list` answer, {SPAWNS} runs after one "
               "warm-up")
    root = c.make_repo("mcp", args.keep)
    seed(root)
    samples, floor = measure(root, args)
    spawns, tools_line = spawn_times(root)

    from agent_sync.core import operations as ops

    ctx = c.open_ctx(root, "bench-inprocess")
    op = ops.by_name()["locks"]
    validated = ops.validate(op, {}, style="mcp")
    inprocess = c.measure_inprocess(lambda: ops.invoke(op, validated, ctx), CALLS)
    ctx.store.close()

    rows = list(samples.items()) + [
        ("MCP server start-up: spawn to the first `tools/list` answer", spawns),
        ("in-process `invoke(locks)` on an open store (the operation itself)", inprocess),
    ]
    print(c.table(rows, floor))
    tool_count = len(json.loads(tools_line)["result"]["tools"])
    print(f"\n`tools/list` answer: {len(tools_line):,} characters of JSON-RPC for {tool_count} tools "
          f"(budget {BUDGET:,}; peers 6.5 KB to 77 KB).")
    for label, _tool, _arguments, argv in OPERATIONS:
        cli_median = statistics.median(samples[f"CLI `agent-sync {' '.join(argv)}`"])
        raw_median = statistics.median(samples[f"MCP `{label}`, raw stdio client"])
        sdk_median = statistics.median(samples[f"MCP `{label}`, SDK client"])
        print(f"- `{label}`: MCP median {c.fmt_ms(raw_median)} ms (raw client) / {c.fmt_ms(sdk_median)} ms "
              f"(SDK client) against {c.fmt_ms(cli_median)} ms for the CLI: {cli_median / raw_median:.0f}× and "
              f"{cli_median / sdk_median:.0f}× faster once the server runs.")
    print(f"\nfloor median {statistics.median(floor) * 1000:.1f} ms; MCP rows are per call inside one session (no "
          "process start), so their ratio to the floor is for scale only; the start-up row is what a host pays "
          "once per session, almost all of it importing the SDK.")


if __name__ == "__main__":
    main()
