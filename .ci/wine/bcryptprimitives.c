/*
 * bcryptprimitives.dll for wine 8.0, which lacks it: Rust's standard library (1.78 and later)
 * imports ProcessPrng from it on Windows, so without this no Rust program starts under
 * Debian's wine. ProcessPrng fills a buffer with random bytes and cannot fail; here it forwards
 * to RtlGenRandom (advapi32's SystemFunction036), which wine has.
 *
 * Built by .ci/run with zig's C compiler:
 *   python3 -m ziglang cc -target x86_64-windows-gnu -shared -O2 \
 *     -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 * and installed in the wine prefix's system32.
 */
#include <windows.h>

/* advapi32's RtlGenRandom, under its export name. */
__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        /* RtlGenRandom takes a 32-bit length. */
        ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, n)) {
            return FALSE;
        }
        data += n;
        length -= n;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
