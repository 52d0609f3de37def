#!/usr/bin/python3
"""A Modbus server for chekt-bridge's tests: pymodbus (Debian's python3-pymodbus 3.0), not our code.

Serves Modbus TCP on 127.0.0.1 or Modbus RTU on a serial device (a socat PTY in the tests), with one data
store per unit: 1000 discrete inputs, coils, input registers and holding registers each, all 0, addressed
from 0 (request address a is item a). Prints "READY <port>" (TCP) or "READY <device>" (RTU) on stdout once it
serves, and exits when its stdin reaches EOF, so it never outlives the test that started it.

Run with /usr/bin/python3 (Debian's pymodbus). Commands on stdin, one per line, each answered on stdout:
  set UNIT TABLE ADDRESS VALUE   -> "ok"         TABLE: di, co, ir, hr
  get UNIT TABLE ADDRESS         -> "<value>"
  mute UNIT / unmute UNIT        -> "ok"         a muted unit never answers (the client times out)
  exception UNIT 1 / exception UNIT 0 -> "ok"  the unit answers every request with exception 2 (illegal data
                                               address) / answers normally again
  stats                          -> JSON {"requests": {unit: n}}
"""

import argparse
import asyncio
import json
import os
import sys
import threading

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer

TABLES = {"di": "d", "co": "c", "ir": "i", "hr": "h"}


class Unit(ModbusSlaveContext):
    """One unit's store, counting requests; muted or answering exceptions on request."""

    def __init__(self, number):
        super().__init__(
            di=ModbusSequentialDataBlock(0, [0] * 1000),
            co=ModbusSequentialDataBlock(0, [0] * 1000),
            ir=ModbusSequentialDataBlock(0, [0] * 1000),
            hr=ModbusSequentialDataBlock(0, [0] * 1000),
            zero_mode=True,
        )
        self.number = number
        self.requests = 0
        self.exception = 0

    def validate(self, fx, address, count=1):
        self.requests += 1
        if self.exception:
            return False  # pymodbus answers a request that fails validation with exception 2
        return super().validate(fx, address, count)


class Units(ModbusServerContext):
    """The units; a muted one is missing, so that the server ignores its requests (ignore_missing_slaves)."""

    def __init__(self, units):
        super().__init__(slaves={u.number: u for u in units}, single=False)
        self.all = {u.number: u for u in units}
        self.muted = set()

    def __contains__(self, unit):
        return unit in self.all and unit not in self.muted

    def __getitem__(self, unit):
        if unit in self.muted:
            from pymodbus.exceptions import NoSuchSlaveException

            raise NoSuchSlaveException(f"unit {unit} is muted")
        return super().__getitem__(unit)


def command(context, line):
    words = line.split()
    if not words:
        return ""
    op = words[0]
    try:
        if op == "set":
            unit, table, address, value = int(words[1]), TABLES[words[2]], int(words[3]), int(words[4])
            context.all[unit].setValues({"d": 2, "c": 1, "i": 4, "h": 3}[table], address, [value])
            return "ok"
        if op == "get":
            unit, table, address = int(words[1]), TABLES[words[2]], int(words[3])
            return str(int(context.all[unit].getValues({"d": 2, "c": 1, "i": 4, "h": 3}[table], address, 1)[0]))
        if op == "mute":
            context.muted.add(int(words[1]))
            return "ok"
        if op == "unmute":
            context.muted.discard(int(words[1]))
            return "ok"
        if op == "exception":
            context.all[int(words[1])].exception = int(words[2])
            return "ok"
        if op == "stats":
            return json.dumps({"requests": {str(n): u.requests for n, u in context.all.items()}})
    except (IndexError, KeyError, ValueError) as error:
        return f"error {error!r}"
    return f"error unknown command {op!r}"


def serve_stdin(context):
    for line in sys.stdin:
        print(command(context, line), flush=True)
    os._exit(0)  # stdin closed: the test is gone


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tcp", type=int, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--rtu", help="serial device")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--units", default="1", help="comma-separated unit ids")
    args = parser.parse_args()
    context = Units([Unit(int(u)) for u in args.units.split(",")])
    loop = asyncio.get_running_loop()
    if args.tcp is not None:
        server = ModbusTcpServer(context, framer=ModbusSocketFramer, address=("127.0.0.1", args.tcp),
                                 allow_reuse_address=True, ignore_missing_slaves=True)
        asyncio.ensure_future(server.serve_forever())
        await server.serving
        print(f"READY {server.server.sockets[0].getsockname()[1]}", flush=True)
    else:
        server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=args.rtu, baudrate=args.baud,
                                    ignore_missing_slaves=True)
        await server.start()
        print(f"READY {args.rtu}", flush=True)
    threading.Thread(target=serve_stdin, args=(context,), daemon=True).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, RuntimeError):
        pass
