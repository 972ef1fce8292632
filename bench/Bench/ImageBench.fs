/// `Bench images`: decode + resize of 2,000 JPEG and PNG files (160 wide, 120–200 high) to 64×64 and to
/// 224×224 through Dsl.Data.Image (SkiaSharp), on one thread and on all cores, and per format. Each figure
/// is the minimum of the repeats. (Commit 319e43b ran the same files through the shim's former OpenCV
/// decoder beside it; bench/README.md has that comparison.)
module Bench.ImageBench

open System
open System.Diagnostics
open System.IO
open System.Threading.Tasks
open Dsl.Engine
open Dsl.Data

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
            let px = Array.zeroCreate<byte>(3 * h * w)
            let cx, cy, r = float (rnd.Next w), float (rnd.Next h), 20.0 + float (rnd.Next 40)
            for c in 0..2 do
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
    let reps =
        match args with
        | [ "--reps"; n ] -> int n
        | _ -> 3
    let dir = Path.Combine(Environment.CurrentDirectory, "bench", "build", "images")
    let files = makeFiles dir 2000 |> Array.ofList
    let bytes = files |> Array.map File.ReadAllBytes // read once: the codec is measured, not the disk
    printfn
        "images: %d files (%d JPEG, %d PNG, 160 x 120..200), %d cores, minimum of %d repeats"
        files.Length
        ((files.Length + 1) / 2)
        (files.Length / 2)
        Environment.ProcessorCount
        reps
    let decode (b: byte[]) h w = (Image.Decode(ReadOnlySpan b, ImageOptions.Resize(h, w))).Dispose()
    let over (inParallel: bool) (keep: byte[] -> bool) h w () =
        let chosen = bytes |> Array.filter keep
        if inParallel then
            Parallel.For(0, chosen.Length, fun i -> decode chosen.[i] h w) |> ignore
        else
            for b in chosen do
                decode b h w
    over false (fun _ -> true) 64 64 ()
    let isJpeg (b: byte[]) = b.[0] = 0xFFuy
    for size in [ 64; 224 ] do
        for inParallel, format, keep in [ false, "all", (fun _ -> true); true, "all", (fun _ -> true); false, "jpeg", isJpeg; false, "png", (isJpeg >> not) ] do
            let n = bytes |> Array.filter keep |> Array.length
            let t = List.init reps (fun _ -> seconds (over inParallel keep size size)) |> List.min
            printfn "images size=%d threads=%s format=%s s=%.3f per_image_us=%.0f" size (if inParallel then string Environment.ProcessorCount else "1") format t (1e6 * t / float n)
    0
