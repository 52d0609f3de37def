/*
 * modbus_bench.c: the C side of `chekt-bridge-bench modbus` (docs/benchmarks.md, "Modbus").
 *
 * A plain libmodbus TCP server, and a plain C client loop of modbus_read_bits: the reference the agent's
 * libmodbus backend is compared with. Not pymodbus: its own speed would be part of the figure (on the
 * development machine it answers this loop about 33,000 times a second, this server about 50,000).
 *
 * Cost: compiled by the bench at every run into its temp folder (cc, < 1 s; needs libmodbus-dev, which
 * the agent's build needs anyway). Nothing is cached. By hand:
 *   cc -O2 -Wall -I/usr/include/modbus -o /tmp/modbus-bench Tools/modbus-bench/modbus_bench.c -lmodbus
 *
 *   modbus-bench server PORT [DEAD_UNIT...]
 *       Serves 127.0.0.1:PORT (0: any free port), one connection at a time (the next once it closes), every
 *       unit id from one mapping of 1000 coils, discrete inputs, holding and input registers, all 0.
 *       Requests to a DEAD_UNIT are read and never answered (the client times out), as a Modbus TCP
 *       gateway does for a module that lost power. Prints "READY <port>" once it listens. Ends with its
 *       parent (PR_SET_PDEATHSIG), so it never outlives the bench.
 *   modbus-bench client PORT SECONDS [UNIT [ADDRESS [COUNT]]]
 *       Reads COUNT (default 8) coils from ADDRESS (default 0) of UNIT (default 1) with modbus_read_bits,
 *       back to back for SECONDS; prints "<transactions> <seconds> <CPU seconds it used>". Exit 1 on the
 *       first failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int serve(int port, const int *dead, int ndead) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    if (ctx == NULL) { fprintf(stderr, "modbus_new_tcp: %s\n", modbus_strerror(errno)); return 1; }
    modbus_mapping_t *mapping = modbus_mapping_new(1000, 1000, 1000, 1000);
    if (mapping == NULL) { fprintf(stderr, "modbus_mapping_new: %s\n", modbus_strerror(errno)); return 1; }
    int listener = modbus_tcp_listen(ctx, 1);
    if (listener < 0) { fprintf(stderr, "modbus_tcp_listen: %s\n", modbus_strerror(errno)); return 1; }
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    if (getsockname(listener, (struct sockaddr *)&address, &length) != 0) { perror("getsockname"); return 1; }
    printf("READY %d\n", ntohs(address.sin_port));
    fflush(stdout);
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    int header = modbus_get_header_length(ctx);  /* 7: the unit id is its last byte */
    for (;;) {
        if (modbus_tcp_accept(ctx, &listener) < 0) { fprintf(stderr, "modbus_tcp_accept: %s\n", modbus_strerror(errno)); return 1; }
        for (;;) {
            int rc = modbus_receive(ctx, query);
            if (rc == 0) continue;
            if (rc < 0) break;  /* the client closed its connection (or sent garbage): take the next one */
            int unit = query[header - 1], ignore = 0;
            for (int i = 0; i < ndead; i++) if (dead[i] == unit) ignore = 1;
            if (ignore) continue;
            if (modbus_reply(ctx, query, rc, mapping) < 0) break;
        }
        modbus_close(ctx);
    }
}

static int client(int port, double seconds, int unit, int address, int count) {
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    if (ctx == NULL || modbus_connect(ctx) != 0) { fprintf(stderr, "connect: %s\n", modbus_strerror(errno)); return 1; }
    modbus_set_slave(ctx, unit);
    uint8_t bits[MODBUS_MAX_READ_BITS];
    long n = 0;
    double start = now_s(), elapsed = 0;
    while ((elapsed = now_s() - start) < seconds) {
        if (modbus_read_bits(ctx, address, count, bits) != count) {
            fprintf(stderr, "modbus_read_bits: %s\n", modbus_strerror(errno));
            return 1;
        }
        n++;
    }
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    printf("%ld %.6f %.6f\n", n, elapsed, (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "server") == 0) {
        int dead[256], ndead = 0;
        for (int i = 3; i < argc && ndead < 256; i++) dead[ndead++] = atoi(argv[i]);
        return serve(atoi(argv[2]), dead, ndead);
    }
    if (argc >= 4 && strcmp(argv[1], "client") == 0) {
        return client(atoi(argv[2]), atof(argv[3]), argc > 4 ? atoi(argv[4]) : 1, argc > 5 ? atoi(argv[5]) : 0,
                      argc > 6 ? atoi(argv[6]) : 8);
    }
    fprintf(stderr, "usage: %s server PORT [DEAD_UNIT...] | client PORT SECONDS [UNIT [ADDRESS [COUNT]]]\n", argv[0]);
    return 2;
}
