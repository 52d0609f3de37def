// One small API over libgpiod, whichever major version the build finds: 1.6 (the v1 API: Debian 12, Raspberry Pi
// OS bookworm) or 2.x (Debian 13, Raspberry Pi OS trixie, bookworm-backports). The two are incompatible C APIs
// behind the same header name and pkg-config module, and Swift cannot test a C macro at compile time; so the
// choice is made here, once, by the preprocessor (chekt_gpio.c), and the Swift backend (BridgeHardware/GPIOD)
// sees only this header. Every function that can fail returns NULL or -1 and leaves the reason in errno.
#ifndef CHEKT_GPIO_H
#define CHEKT_GPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// An open GPIO chip (its character device, /dev/gpiochipN).
struct chekt_gpio_chip;
/// Lines of one chip held by this process: inputs (both edges watched) and outputs.
struct chekt_gpio_lines;

enum chekt_gpio_bias { CHEKT_GPIO_BIAS_AS_IS = 0, CHEKT_GPIO_BIAS_DISABLED, CHEKT_GPIO_BIAS_PULL_UP, CHEKT_GPIO_BIAS_PULL_DOWN };
enum chekt_gpio_drive { CHEKT_GPIO_DRIVE_PUSH_PULL = 0, CHEKT_GPIO_DRIVE_OPEN_DRAIN };

struct chekt_gpio_line_config {
    unsigned int offset;
    bool output;
    /// Applied by the kernel: values, edges and the initial level below are logical (active = true).
    bool active_low;
    enum chekt_gpio_bias bias;
    enum chekt_gpio_drive drive;
    /// An output's logical level from the moment it is requested (so nothing switches at start-up).
    bool initial;
};

struct chekt_gpio_line_info {
    char name[64];
    char consumer[64];
    bool used;
};

struct chekt_gpio_edge {
    unsigned int offset;
    /// Logical: true when the line became active.
    bool rising;
    /// When the kernel saw the edge, CLOCK_MONOTONIC nanoseconds.
    uint64_t timestamp_ns;
    /// The kernel's per-line event number (v2 API; 0 with the v1 API, which has none): a gap means lost events.
    uint64_t line_seqno;
    /// The kernel's event number across the request (v2 API; 0 with v1). The lines of a v2 request share one
    /// queue, which drops its oldest events when full: a gap here can be another line's lost edge.
    uint64_t global_seqno;
};

/// "1.6.3" or "2.1.3": the library's own version string.
const char *chekt_gpio_library_version(void);
/// 1 or 2: the libgpiod API this build was compiled against.
int chekt_gpio_api_major(void);

struct chekt_gpio_chip *chekt_gpio_chip_open(const char *path);
void chekt_gpio_chip_close(struct chekt_gpio_chip *chip);
/// The chip's kernel name (gpiochipN), label and number of lines.
int chekt_gpio_chip_describe(struct chekt_gpio_chip *chip, char *name, size_t name_size, char *label,
                             size_t label_size, unsigned int *num_lines);
int chekt_gpio_line_describe(struct chekt_gpio_chip *chip, unsigned int offset, struct chekt_gpio_line_info *info);
/// The offset of the line named `name` (errno ENOENT when there is none).
int chekt_gpio_line_offset(struct chekt_gpio_chip *chip, const char *name);

/// Requests `count` lines at once. Fails (EBUSY, EINVAL, ...) without holding any of them.
struct chekt_gpio_lines *chekt_gpio_request(struct chekt_gpio_chip *chip, const char *consumer,
                                            const struct chekt_gpio_line_config *lines, size_t count);
/// Releases every line of the request; outputs fall back to what the hardware does with a released line.
void chekt_gpio_release(struct chekt_gpio_lines *lines);
/// The descriptors to poll for edges (POLLIN), at most `max`; returns how many.
size_t chekt_gpio_event_fds(struct chekt_gpio_lines *lines, int *fds, size_t max);
/// Reads the edges waiting on `fd` (one of chekt_gpio_event_fds); returns how many, or -1.
int chekt_gpio_read_edges(struct chekt_gpio_lines *lines, int fd, struct chekt_gpio_edge *edges, size_t max);
/// A line's logical level: 0 or 1, or -1.
int chekt_gpio_get(struct chekt_gpio_lines *lines, unsigned int offset);
int chekt_gpio_set(struct chekt_gpio_lines *lines, unsigned int offset, bool active);

#endif
