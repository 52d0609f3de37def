// The one place where libgpiod 1.6 and 2.x differ (include/chekt_gpio.h says why). Only the v1 header defines
// GPIOD_LINE_BULK_MAX_LINES; the v2 header defines the line-settings API instead.
#include <gpiod.h>

#include "chekt_gpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_text(char *to, size_t size, const char *from) {
    if (size == 0) return;
    snprintf(to, size, "%s", from ? from : "");
}

// Opening and closing a chip are the same call in both APIs.
struct chekt_gpio_chip { struct gpiod_chip *chip; };

struct chekt_gpio_chip *chekt_gpio_chip_open(const char *path) {
    struct gpiod_chip *chip = gpiod_chip_open(path);
    if (!chip) return NULL;
    struct chekt_gpio_chip *c = malloc(sizeof *c);
    if (!c) { gpiod_chip_close(chip); errno = ENOMEM; return NULL; }
    c->chip = chip;
    return c;
}

void chekt_gpio_chip_close(struct chekt_gpio_chip *chip) {
    if (!chip) return;
    gpiod_chip_close(chip->chip);
    free(chip);
}

#ifdef GPIOD_LINE_BULK_MAX_LINES
// ---- libgpiod 1.6: the v1 API. One request (and one event descriptor) per line. ----

struct held_line {
    unsigned int offset;
    struct gpiod_line *line;
    bool output;
};

struct chekt_gpio_lines {
    size_t count;
    struct held_line lines[];
};

const char *chekt_gpio_library_version(void) { return gpiod_version_string(); }
int chekt_gpio_api_major(void) { return 1; }

int chekt_gpio_chip_describe(struct chekt_gpio_chip *chip, char *name, size_t name_size, char *label,
                             size_t label_size, unsigned int *num_lines) {
    copy_text(name, name_size, gpiod_chip_name(chip->chip));
    copy_text(label, label_size, gpiod_chip_label(chip->chip));
    *num_lines = gpiod_chip_num_lines(chip->chip);
    return 0;
}

int chekt_gpio_line_describe(struct chekt_gpio_chip *chip, unsigned int offset, struct chekt_gpio_line_info *info) {
    struct gpiod_line *line = gpiod_chip_get_line(chip->chip, offset);
    if (!line || gpiod_line_update(line) < 0) return -1;
    copy_text(info->name, sizeof info->name, gpiod_line_name(line));
    copy_text(info->consumer, sizeof info->consumer, gpiod_line_consumer(line));
    info->used = gpiod_line_is_used(line);
    return 0;
}

int chekt_gpio_line_offset(struct chekt_gpio_chip *chip, const char *name) {
    errno = 0;
    struct gpiod_line *line = gpiod_chip_find_line(chip->chip, name);
    if (!line) {
        if (errno == 0) errno = ENOENT;
        return -1;
    }
    return (int)gpiod_line_offset(line);
}

static int request_flags(const struct chekt_gpio_line_config *c) {
    int flags = c->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    switch (c->bias) {
    case CHEKT_GPIO_BIAS_AS_IS: break;
    case CHEKT_GPIO_BIAS_DISABLED: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; break;
    case CHEKT_GPIO_BIAS_PULL_UP: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; break;
    case CHEKT_GPIO_BIAS_PULL_DOWN: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; break;
    }
    if (c->output && c->drive == CHEKT_GPIO_DRIVE_OPEN_DRAIN) flags |= GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN;
    return flags;
}

struct chekt_gpio_lines *chekt_gpio_request(struct chekt_gpio_chip *chip, const char *consumer,
                                            const struct chekt_gpio_line_config *lines, size_t count) {
    struct chekt_gpio_lines *held = calloc(1, sizeof *held + count * sizeof held->lines[0]);
    if (!held) { errno = ENOMEM; return NULL; }
    for (size_t i = 0; i < count; i++) {
        const struct chekt_gpio_line_config *c = &lines[i];
        struct gpiod_line *line = gpiod_chip_get_line(chip->chip, c->offset);
        struct gpiod_line_request_config config = {
            .consumer = consumer,
            .request_type = c->output ? GPIOD_LINE_REQUEST_DIRECTION_OUTPUT : GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES,
            .flags = request_flags(c),
        };
        if (!line || gpiod_line_request(line, &config, c->output && c->initial ? 1 : 0) < 0) {
            int saved = errno;
            chekt_gpio_release(held);
            errno = saved;
            return NULL;
        }
        held->lines[held->count++] = (struct held_line){ .offset = c->offset, .line = line, .output = c->output };
    }
    return held;
}

void chekt_gpio_release(struct chekt_gpio_lines *lines) {
    if (!lines) return;
    for (size_t i = 0; i < lines->count; i++) gpiod_line_release(lines->lines[i].line);
    free(lines);
}

size_t chekt_gpio_event_fds(struct chekt_gpio_lines *lines, int *fds, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < lines->count && n < max; i++) {
        if (!lines->lines[i].output) fds[n++] = gpiod_line_event_get_fd(lines->lines[i].line);
    }
    return n;
}

int chekt_gpio_read_edges(struct chekt_gpio_lines *lines, int fd, struct chekt_gpio_edge *edges, size_t max) {
    struct held_line *owner = NULL;
    for (size_t i = 0; i < lines->count; i++) {
        if (!lines->lines[i].output && gpiod_line_event_get_fd(lines->lines[i].line) == fd) owner = &lines->lines[i];
    }
    if (!owner) { errno = EBADF; return -1; }
    struct gpiod_line_event events[16];
    unsigned int want = max < 16 ? (unsigned int)max : 16;
    int n = gpiod_line_event_read_fd_multiple(fd, events, want);
    for (int i = 0; i < n; i++) {
        edges[i] = (struct chekt_gpio_edge){
            .offset = owner->offset,
            .rising = events[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE,
            .timestamp_ns = (uint64_t)events[i].ts.tv_sec * 1000000000u + (uint64_t)events[i].ts.tv_nsec,
            .line_seqno = 0,
            .global_seqno = 0,
        };
    }
    return n;
}

static struct gpiod_line *held(struct chekt_gpio_lines *lines, unsigned int offset) {
    for (size_t i = 0; i < lines->count; i++) {
        if (lines->lines[i].offset == offset) return lines->lines[i].line;
    }
    errno = ENOENT;
    return NULL;
}

int chekt_gpio_get(struct chekt_gpio_lines *lines, unsigned int offset) {
    struct gpiod_line *line = held(lines, offset);
    return line ? gpiod_line_get_value(line) : -1;
}

int chekt_gpio_set(struct chekt_gpio_lines *lines, unsigned int offset, bool active) {
    struct gpiod_line *line = held(lines, offset);
    return line ? gpiod_line_set_value(line, active ? 1 : 0) : -1;
}

#else
// ---- libgpiod 2.x: the v2 API. One request (and one event descriptor) for all the lines. ----

struct chekt_gpio_lines {
    struct gpiod_line_request *request;
    struct gpiod_edge_event_buffer *buffer;
    bool has_inputs;
};

const char *chekt_gpio_library_version(void) { return gpiod_api_version(); }
int chekt_gpio_api_major(void) { return 2; }

int chekt_gpio_chip_describe(struct chekt_gpio_chip *chip, char *name, size_t name_size, char *label,
                             size_t label_size, unsigned int *num_lines) {
    struct gpiod_chip_info *info = gpiod_chip_get_info(chip->chip);
    if (!info) return -1;
    copy_text(name, name_size, gpiod_chip_info_get_name(info));
    copy_text(label, label_size, gpiod_chip_info_get_label(info));
    *num_lines = (unsigned int)gpiod_chip_info_get_num_lines(info);
    gpiod_chip_info_free(info);
    return 0;
}

int chekt_gpio_line_describe(struct chekt_gpio_chip *chip, unsigned int offset, struct chekt_gpio_line_info *out) {
    struct gpiod_line_info *info = gpiod_chip_get_line_info(chip->chip, offset);
    if (!info) return -1;
    copy_text(out->name, sizeof out->name, gpiod_line_info_get_name(info));
    copy_text(out->consumer, sizeof out->consumer, gpiod_line_info_get_consumer(info));
    out->used = gpiod_line_info_is_used(info);
    gpiod_line_info_free(info);
    return 0;
}

int chekt_gpio_line_offset(struct chekt_gpio_chip *chip, const char *name) {
    return gpiod_chip_get_line_offset_from_name(chip->chip, name);
}

static struct gpiod_line_settings *settings_for(const struct chekt_gpio_line_config *c) {
    struct gpiod_line_settings *s = gpiod_line_settings_new();
    if (!s) return NULL;
    static const enum gpiod_line_bias biases[] = {
        [CHEKT_GPIO_BIAS_AS_IS] = GPIOD_LINE_BIAS_AS_IS, [CHEKT_GPIO_BIAS_DISABLED] = GPIOD_LINE_BIAS_DISABLED,
        [CHEKT_GPIO_BIAS_PULL_UP] = GPIOD_LINE_BIAS_PULL_UP, [CHEKT_GPIO_BIAS_PULL_DOWN] = GPIOD_LINE_BIAS_PULL_DOWN,
    };
    int status = gpiod_line_settings_set_bias(s, biases[c->bias]);
    gpiod_line_settings_set_active_low(s, c->active_low);
    if (c->output) {
        status |= gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_OUTPUT);
        status |= gpiod_line_settings_set_drive(s, c->drive == CHEKT_GPIO_DRIVE_OPEN_DRAIN ? GPIOD_LINE_DRIVE_OPEN_DRAIN
                                                                                            : GPIOD_LINE_DRIVE_PUSH_PULL);
        status |= gpiod_line_settings_set_output_value(s, c->initial ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
    } else {
        status |= gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_INPUT);
        status |= gpiod_line_settings_set_edge_detection(s, GPIOD_LINE_EDGE_BOTH);
        status |= gpiod_line_settings_set_event_clock(s, GPIOD_LINE_CLOCK_MONOTONIC);
    }
    if (status != 0) {
        gpiod_line_settings_free(s);
        errno = EINVAL;
        return NULL;
    }
    return s;
}

struct chekt_gpio_lines *chekt_gpio_request(struct chekt_gpio_chip *chip, const char *consumer,
                                            const struct chekt_gpio_line_config *lines, size_t count) {
    struct chekt_gpio_lines *held = calloc(1, sizeof *held);
    struct gpiod_line_config *line_config = gpiod_line_config_new();
    struct gpiod_request_config *request_config = gpiod_request_config_new();
    int saved = ENOMEM;
    if (!held || !line_config || !request_config) goto fail;
    gpiod_request_config_set_consumer(request_config, consumer);
    // The kernel's largest queue (it defaults to 16 events per line, shared by the lines of the request).
    gpiod_request_config_set_event_buffer_size(request_config, 1024);
    for (size_t i = 0; i < count; i++) {
        struct gpiod_line_settings *s = settings_for(&lines[i]);
        if (!s) { saved = errno; goto fail; }
        int status = gpiod_line_config_add_line_settings(line_config, &lines[i].offset, 1, s);
        saved = errno;
        gpiod_line_settings_free(s);
        if (status < 0) goto fail;
        held->has_inputs |= !lines[i].output;
    }
    held->buffer = gpiod_edge_event_buffer_new(64);
    if (!held->buffer) { saved = ENOMEM; goto fail; }
    held->request = gpiod_chip_request_lines(chip->chip, request_config, line_config);
    if (!held->request) { saved = errno; goto fail; }
    gpiod_line_config_free(line_config);
    gpiod_request_config_free(request_config);
    return held;
fail:
    if (held && held->buffer) gpiod_edge_event_buffer_free(held->buffer);
    free(held);
    gpiod_line_config_free(line_config);
    gpiod_request_config_free(request_config);
    errno = saved;
    return NULL;
}

void chekt_gpio_release(struct chekt_gpio_lines *lines) {
    if (!lines) return;
    gpiod_line_request_release(lines->request);
    gpiod_edge_event_buffer_free(lines->buffer);
    free(lines);
}

size_t chekt_gpio_event_fds(struct chekt_gpio_lines *lines, int *fds, size_t max) {
    if (!lines->has_inputs || max == 0) return 0;
    fds[0] = gpiod_line_request_get_fd(lines->request);
    return 1;
}

int chekt_gpio_read_edges(struct chekt_gpio_lines *lines, int fd, struct chekt_gpio_edge *edges, size_t max) {
    if (fd != gpiod_line_request_get_fd(lines->request)) { errno = EBADF; return -1; }
    size_t want = max < 64 ? max : 64;
    int n = gpiod_line_request_read_edge_events(lines->request, lines->buffer, want);
    for (int i = 0; i < n; i++) {
        struct gpiod_edge_event *e = gpiod_edge_event_buffer_get_event(lines->buffer, (unsigned long)i);
        edges[i] = (struct chekt_gpio_edge){
            .offset = gpiod_edge_event_get_line_offset(e),
            .rising = gpiod_edge_event_get_event_type(e) == GPIOD_EDGE_EVENT_RISING_EDGE,
            .timestamp_ns = gpiod_edge_event_get_timestamp_ns(e),
            .line_seqno = gpiod_edge_event_get_line_seqno(e),
            .global_seqno = gpiod_edge_event_get_global_seqno(e),
        };
    }
    return n;
}

int chekt_gpio_get(struct chekt_gpio_lines *lines, unsigned int offset) {
    enum gpiod_line_value v = gpiod_line_request_get_value(lines->request, offset);
    return v == GPIOD_LINE_VALUE_ERROR ? -1 : v == GPIOD_LINE_VALUE_ACTIVE;
}

int chekt_gpio_set(struct chekt_gpio_lines *lines, unsigned int offset, bool active) {
    return gpiod_line_request_set_value(lines->request, offset, active ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
}

#endif
