using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

// native/image.cpp: image decoding and encoding (OpenCV).
internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_image_decode(void* data, long n, int grayscale, long height, long width, int fitMode, int interpolation);
    [LibraryImport(Lib)] internal static partial int dsl_image_decode_into(nint batch, long index, void* data, long n, int grayscale, int fitMode, int interpolation);
    [LibraryImport(Lib)] internal static partial nint dsl_image_encode(nint image, int format, int quality);
}
