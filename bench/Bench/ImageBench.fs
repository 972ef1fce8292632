/// `Bench images`: decode + resize of 2,000 JPEG and PNG files (160 wide, 120–200 high) to 64×64 and to
/// 224×224, through SkiaSharp (Dsl.Data.Image) and through the shim's OpenCV path (dsl_image_decode), in
/// the same process and run, one thread and all cores. Issue #11 decides on these figures whether OpenCV
/// stays (SkiaSharp within 1.3× of OpenCV: it goes). Each figure is the minimum of the repeats.
module Bench.ImageBench

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open System.Threading.Tasks
open Dsl.Engine
open Dsl.Data

[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type private DecodeFn = delegate of nativeint * int64 * int * int64 * int64 * int * int -> nativeint

[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type private FreeFn = delegate of nativeint -> unit

/// The shim's OpenCV decoder, called directly (it is internal to the engine).
type private OpenCv() =
    let lib = NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "libdsl_native.so"))
    let decode = Marshal.GetDelegateForFunctionPointer<DecodeFn>(NativeLibrary.GetExport(lib, "dsl_image_decode"))
    let free = Marshal.GetDelegateForFunctionPointer<FreeFn>(NativeLibrary.GetExport(lib, "dsl_tensor_free"))
    /// Decodes and resizes (stretch, INTER_AREA shrinking / INTER_LINEAR enlarging: the shim's "auto").
    member _.Decode(bytes: byte[], h: int, w: int) =
        let pin = GCHandle.Alloc(bytes, GCHandleType.Pinned)
        try
            let t = decode.Invoke(pin.AddrOfPinnedObject(), int64 bytes.Length, 0, int64 h, int64 w, 1, 0)
            if t = 0n then failwith "opencv decode failed"
            free.Invoke t
        finally pin.Free()

/// Writes the test files once: a smooth scene (gradients, a disc, stripes) plus noise, so that both codecs
/// see photo-like data, half as JPEG (quality 90) and half as PNG.
let private makeFiles (dir: string) (count: int) =
    Directory.CreateDirectory dir |> ignore
    let files = [ for i in 0 .. count - 1 -> Path.Combine(dir, sprintf "img_%04d.%s" i (if i % 2 = 0 then "jpg" else "png")) ]
    if not (files |> List.forall File.Exists) then
        let rnd = Random(11)
        for i, f in List.indexed files do
            use _ = DisposeScope.Enter()
            let h, w = 120 + rnd.Next(81), 160
            let px = Array.zeroCreate<byte> (3 * h * w)
            let cx, cy, r = float (rnd.Next w), float (rnd.Next h), 20.0 + float (rnd.Next 40)
            for c in 0 .. 2 do
                for y in 0 .. h - 1 do
                    for x in 0 .. w - 1 do
                        let d = sqrt ((float x - cx) ** 2.0 + (float y - cy) ** 2.0)
                        let v = 60.0 * float c + 0.8 * float x + 0.5 * float y + (if d < r then 70.0 else 0.0) + (if (x / 7) % 2 = 0 then 15.0 else 0.0) + float (rnd.Next 24)
                        px.[(c * h + y) * w + x] <- byte (int v % 256)
            let t = Torch.From<byte>(px, [| 3L; int64 h; int64 w |])
            File.WriteAllBytes(f, Image.Encode(t, (if i % 2 = 0 then ImageFormat.Jpeg else ImageFormat.Png), 90))
    files

let private seconds (f: unit -> unit) =
    let w = Stopwatch.StartNew()
    f ()
    w.Elapsed.TotalSeconds

let run (args: string list) =
    let reps = match args with [ "--reps"; n ] -> int n | _ -> 3
    let dir = Path.Combine(Environment.CurrentDirectory, "bench", "build", "images")
    let files = makeFiles dir 2000 |> Array.ofList
    let bytes = files |> Array.map File.ReadAllBytes        // read once: the codecs are measured, not the disk
    let opencv = OpenCv()
    printfn "images: %d files (%d JPEG, %d PNG, 160 x 120..200), %d cores, minimum of %d repeats" files.Length ((files.Length + 1) / 2) (files.Length / 2) Environment.ProcessorCount reps
    let skia (b: byte[]) h w = (Image.Decode(ReadOnlySpan b, ImageOptions.Resize(h, w))).Dispose()
    let cv (b: byte[]) h w = opencv.Decode(b, h, w)
    let over (parallel: bool) (f: byte[] -> int -> int -> unit) h w () =
        if parallel then Parallel.For(0, bytes.Length, fun i -> f bytes.[i] h w) |> ignore
        else for b in bytes do f b h w
    // Warm both (JIT, codec tables).
    for side in [ skia; cv ] do over false side 64 64 ()
    for size in [ 64; 224 ] do
        for parallel in [ false; true ] do
            let time side = List.init reps (fun _ -> seconds (over parallel side size size)) |> List.min
            let ts, tc = time skia, time cv
            printfn "images size=%d threads=%s skia_s=%.3f opencv_s=%.3f ratio_skia_over_opencv=%.2f skia_per_image_us=%.0f"
                size (if parallel then string Environment.ProcessorCount else "1") ts tc (ts / tc) (1e6 * ts / float bytes.Length)
    0
