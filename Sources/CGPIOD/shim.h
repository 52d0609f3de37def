// libgpiod: 1.6 (the v1 API, Debian 12 / Raspberry Pi OS bookworm) or 2.x (Debian 13, trixie), whichever
// pkg-config finds. Only CGPIODAdapter includes it; Swift code uses that target's API.
#include <gpiod.h>
