#!/usr/bin/python3
"""A Modbus server for chekt-bridge's tests: pymodbus (Debian's python3-pymodbus: 3.0 in Debian 12, 3.8 in 13), not
our code. The two pymodbus APIs differ (imports, framers, starting a server, address mapping, which requests the
store validates): that is handled in the "pymodbus 3.0 or 3.7+" section below and nowhere else.

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
from pymodbus.exceptions import NoSuchSlaveException

# ---- pymodbus 3.0 (Debian 12) or 3.7+ (Debian 13: 3.8) ----
try:
    from pymodbus.framer import FramerType  # 3.7+
    from pymodbus.pdu import ExceptionResponse
    from pymodbus.server import ModbusSerialServer, ModbusTcpServer

    NEW_API = True
except ImportError:  # 3.0
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    from pymodbus.framer.socket_framer import ModbusSocketFramer
    from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer

    NEW_API = False


def stores():
    """The four tables of one unit, request address a being item a: 3.0 maps addresses one to one with
    zero_mode=True; 3.7+ has no zero_mode and always adds 1, so its blocks start at 1."""
    def blocks(start):
        return {t: ModbusSequentialDataBlock(start, [0] * 1000) for t in ("di", "co", "ir", "hr")}

    try:
        ModbusSlaveContext(zero_mode=True)
        return dict(blocks(0), zero_mode=True)
    except TypeError:  # 3.7+: unexpected keyword argument 'zero_mode'
        return blocks(1)


def exception_responses(context):
    """3.7+: a trace_pdu hook that validates bit reads, as 3.0 validates every request (3.7+ never calls validate
    for reading coils or discrete inputs): a unit in exception mode, or a read past the table, is answered with
    exception 2 (illegal data address) instead of its bits."""
    bit_reads = {}

    def trace(sending, pdu):
        key = (pdu.dev_id, pdu.transaction_id)
        if not sending:
            if pdu.function_code in (1, 2):
                if len(bit_reads) > 1000:  # requests to a muted unit are never answered
                    bit_reads.clear()
                bit_reads[key] = pdu
            return pdu
        request = bit_reads.pop(key, None)
        unit = context.all.get(pdu.dev_id)
        if (request is not None and unit is not None and not isinstance(pdu, ExceptionResponse)
                and not unit.validate(request.function_code, request.address, request.count)):
            return ExceptionResponse(request.function_code, ExceptionResponse.ILLEGAL_ADDRESS,
                                     slave=pdu.dev_id, transaction=pdu.transaction_id)
        return pdu

    return trace


async def start_tcp(context, port):
    """Serves on 127.0.0.1:port; returns the port bound."""
    if NEW_API:
        server = ModbusTcpServer(context, framer=FramerType.SOCKET, address=("127.0.0.1", port),
                                 ignore_missing_slaves=True, trace_pdu=exception_responses(context))
        await server.serve_forever(background=True)
        if server.transport is None:
            raise SystemExit(f"modbus_server.py: cannot listen on 127.0.0.1:{port}")
        return server.transport.sockets[0].getsockname()[1]
    server = ModbusTcpServer(context, framer=ModbusSocketFramer, address=("127.0.0.1", port),
                             allow_reuse_address=True, ignore_missing_slaves=True)
    asyncio.ensure_future(server.serve_forever())
    await server.serving
    return server.server.sockets[0].getsockname()[1]


async def start_rtu(context, device, baud):
    """Serves Modbus RTU on the serial device."""
    if NEW_API:
        server = ModbusSerialServer(context, framer=FramerType.RTU, port=device, baudrate=baud,
                                    ignore_missing_slaves=True, trace_pdu=exception_responses(context))
        await server.serve_forever(background=True)
        if server.transport is None:
            raise SystemExit(f"modbus_server.py: cannot open {device}")
        return
    server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=device, baudrate=baud,
                                ignore_missing_slaves=True)
    await server.start()
# ---- end of the pymodbus differences ----

TABLES = {"di": "d", "co": "c", "ir": "i", "hr": "h"}


class Unit(ModbusSlaveContext):
    """One unit's store; answering exceptions on request."""

    def __init__(self, number):
        super().__init__(**stores())
        self.number = number
        self.requests = 0
        self.exception = 0

    def validate(self, fx, address, count=1):
        if self.exception:
            return False  # pymodbus answers a request that fails validation with exception 2
        return super().validate(fx, address, count)


class Units(ModbusServerContext):
    """The units; a muted one is missing, so that the server ignores its requests (ignore_missing_slaves).
    The server looks a unit up once per request it executes: that is where requests are counted."""

    def __init__(self, units):
        super().__init__(slaves={u.number: u for u in units}, single=False)
        self.all = {u.number: u for u in units}
        self.muted = set()

    def __contains__(self, unit):
        return unit in self.all and unit not in self.muted

    def __getitem__(self, unit):
        if unit in self.muted:
            raise NoSuchSlaveException(f"unit {unit} is muted")
        found = super().__getitem__(unit)
        found.requests += 1
        return found


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
        print(f"READY {await start_tcp(context, args.tcp)}", flush=True)
    else:
        await start_rtu(context, args.rtu, args.baud)
        print(f"READY {args.rtu}", flush=True)
    threading.Thread(target=serve_stdin, args=(context,), daemon=True).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, RuntimeError):
        pass
