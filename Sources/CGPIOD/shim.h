// libgpiod 1.6 (the v1 API), as on Debian 12 / Raspberry Pi OS bookworm.
#include <gpiod.h>
