// libmodbus 3.1. The header is included by its full path: the .pc file's
// -I/usr/include/modbus applies only through pkgConfig.
#include <modbus/modbus.h>

// Error codes built from other macros do not import into Swift.
static const int chekt_EMBXILFUN = EMBXILFUN;
static const int chekt_EMBXILADD = EMBXILADD;
static const int chekt_EMBXILVAL = EMBXILVAL;
static const int chekt_EMBXSFAIL = EMBXSFAIL;
static const int chekt_EMBXSBUSY = EMBXSBUSY;
static const int chekt_EMBXGPATH = EMBXGPATH;
static const int chekt_EMBBADCRC = EMBBADCRC;
static const int chekt_EMBBADDATA = EMBBADDATA;
static const int chekt_EMBBADEXC = EMBBADEXC;
static const int chekt_EMBMDATA = EMBMDATA;
static const int chekt_EMBBADSLAVE = EMBBADSLAVE;
