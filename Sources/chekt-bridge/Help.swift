/// The text `--help` prints for each command (cli.md).
enum Help {
    static let overview = """
    chekt-bridge: the CHeKT bridge agent and the technician's tools beside it.

    usage: chekt-bridge COMMAND [ARGS] [--socket PATH]

    The agent:
      run --config FILE [--simulate] [--state-dir DIR] [--log-level L]   run the agent (foreground; SIGTERM stops it safely)

    Tools that talk to the running agent (over its control socket):
      status [--json]                          partitions, zones, relays, devices, inputs, outbox, clock offset
      relay on|off RELAY                       energise / release a relay
      relay pulse RELAY [--ms N]               pulse a relay for N ms (default: its pulse_ms)
      relay test [RELAY ...] [--ms N]          pulse each in turn and confirm the click
      partition arm PARTITION [--mode away|stay] [--force]
      partition disarm PARTITION
      zone bypass|unbypass ZONE
      inputs [--watch]                         input levels; live with --watch
      events [--follow] [--since SEQ] [--json] recorded events
      sim input INPUT active|inactive          (agent run with --simulate only)
      sim device DEVICE online|offline         (agent run with --simulate only)

    Files:
      board validate FILE                      check a board profile
      config validate FILE                     check a site config and its board
      doctor [--config FILE]                   permissions, chips, serial ports, credentials, clock, upstream
      version

    Global: --socket PATH (default /run/chekt-bridge/control.sock, or $CHEKT_BRIDGE_SOCKET); --help on every command.
    Exit codes: 0 done, 1 refused or failed (reason printed), 2 usage or configuration error (also: no permission
    to use the control socket), 3 no agent answering (also when it stops under events --follow or inputs --watch).
    """

    static let commands: [String: String] = [
        "run": """
        usage: chekt-bridge run --config FILE [--simulate] [--state-dir DIR] [--log-level LEVEL] [--socket PATH]

        Runs the agent in the foreground: reads the inputs, drives the relays, records every event durably
        under the state folder, and answers the tools on the control socket. Logs one line per event on stderr.
        SIGTERM or SIGINT puts every relay in its safe state, records it, and exits 0.

          --config FILE     the site config (config.md); its board profile is loaded from its "board" path
          --simulate        run on the simulated board that offers exactly what the board profile names;
                            without it: the GPIO chips (libgpiod) and Modbus buses (libmodbus) it names
          --state-dir DIR   overrides the config's bridge.state_dir
          --log-level LEVEL error, warning, info (default) or debug: the least severe entries logged. Under
                            systemd (stderr is the journal) each line carries its syslog priority (<3> ... <7>)
          --socket PATH     where to create the control socket (default /run/chekt-bridge/control.sock)
        """,
        "status": """
        usage: chekt-bridge status [--json]

        Shows partitions, zones, relays, devices, inputs (level, last change), the outbox, upstream state and
        clock offset ("none" in local mode) of the running agent.
          --json   the state snapshot of protocol.md (same keys and shapes) plus local-only fields, as one JSON document
        """,
        "relay": """
        usage: chekt-bridge relay on RELAY
               chekt-bridge relay off RELAY
               chekt-bridge relay pulse RELAY [--ms N]
               chekt-bridge relay test [RELAY ...] [--ms N]

          on      energise (a pulse-mode relay pulses for its pulse_ms); bounded by max_on_ms
          off     release
          pulse   energise for N ms, 1 to 86400000 (default: the relay's pulse_ms, else 1000), bounded by
                  max_on_ms; says "cut to N ms by max_on_ms" when the bound shortens it
          test    pulse each relay named (default: all) for N ms, 1 to 60000 (default 500), one after another:
                  each pulse ends before its answer is taken and the next relay is pulsed. Answers y/n/q at
                  the prompt, or one per line on stdin from a script; q or the end of input ends the test.
                  Prints each relay's result (confirmed, answered no, pulsed, not answered, not tested);
                  exits 0 only when every relay was confirmed, else 1
        """,
        "partition": """
        usage: chekt-bridge partition arm PARTITION [--mode away|stay] [--force]
               chekt-bridge partition disarm PARTITION

          arm      refused (exit 1) when a zone is faulted or in trouble, naming the zones, unless --force,
                   which bypasses them first. Local arming uses the partition's exit_delay_s.
          disarm   ends entry delay and alarm, releases the siren, clears bypasses
        """,
        "zone": """
        usage: chekt-bridge zone bypass ZONE
               chekt-bridge zone unbypass ZONE

        A bypassed zone raises no alarm and does not stop arming; its faults are still recorded.
        Fire, 24h and panic zones cannot be bypassed unless configured "bypassable": true.
        """,
        "inputs": """
        usage: chekt-bridge inputs [--watch]

        Every board input: its debounced level, raw level, last change, and the zone using it.
          --watch   a live table; changed rows are highlighted. Ctrl-C ends it; exit 3 when the agent stops.
        """,
        "events": """
        usage: chekt-bridge events [--follow] [--since SEQ] [--json]

        Recorded events from the agent's journal, oldest first, as a table (SEQ, TIME, TYPE, DATA).
        Without --since: the last 20.
          --since SEQ   events with seq SEQ and later
          --follow      keep printing events as they are recorded (Ctrl-C ends it; exit 3 when the agent stops)
          --json        a JSON array of events as stored (with --follow: one JSON event per line)
        """,
        "sim": """
        usage: chekt-bridge sim input INPUT active|inactive
               chekt-bridge sim device DEVICE online|offline

        Drives the simulated board of an agent started with run --simulate: sets a board input's level, or takes
        a device (a Modbus device or a GPIO chip) offline and back.
        """,
        "board": """
        usage: chekt-bridge board validate FILE

        Checks a board profile; prints every problem (exit 2) or a short summary (exit 0).
        """,
        "config": """
        usage: chekt-bridge config validate FILE

        Checks a site config and the board profile it names; prints every problem (exit 2) or a summary (exit 0).
        """,
        "doctor": """
        usage: chekt-bridge doctor [--config FILE]

        Checks what a bridge needs, one line each (OK, WARN, FAIL) with what to do: the config (default
        /etc/chekt-bridge/config.json), the state folder and its free space, the running agent, the GPIO chips
        (found by label) and each of their lines (free, held by the agent, or by which program), the serial ports
        and their permissions, the Modbus devices, the credentials file's mode, the clock, upstream.
        A config it cannot use is a FAIL naming the file and its first problems (exit 2). Otherwise exits 1 when
        anything FAILs (e.g. a control socket this user may not use), else 0.
        """,
        "version": """
        usage: chekt-bridge version

        Prints the version and the C libraries the agent uses: libgpiod, libmodbus, libcurl, libcrypto (OpenSSL).
        """,
    ]
}
