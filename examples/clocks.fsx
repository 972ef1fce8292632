#load "../Dsl.fsx"
// Seed 004's "tell the time" data, synthesised: renders 18,000 analog clocks (150×150 grayscale, hour
// and minute labels), reports the time, and saves a captioned grid of the first 24 as
// examples/output/clocks/clocks.png (or in --out DIR), plus the same clocks after the seed's contrast preprocessing.
//   dotnet fsi build.fsx run examples/clocks.fsx [count] [--out DIR]
open System.Diagnostics
open Dsl.Engine
open Dsl.Data

let args = fsi.CommandLineArgs |> Array.tail
let out =
    match Array.tryFindIndex ((=) "--out") args with
    | Some i -> args.[i + 1]
    | None -> System.IO.Path.Combine(__SOURCE_DIRECTORY__, "output", "clocks")
System.IO.Directory.CreateDirectory out |> ignore
let count = args |> Array.tryFind (fun a -> fst (System.Int32.TryParse a)) |> Option.map int |> Option.defaultValue 18000

let proc = Process.GetCurrentProcess()
let cpu0 = proc.TotalProcessorTime
let watch = Stopwatch.StartNew()
let clocks = Clocks.Generate(count, seed = 4L)
proc.Refresh()
printfn
    "rendered %d clocks %A in %.2f s (%.2f s of CPU on %d cores)"
    clocks.Count
    clocks.Images.Shape
    watch.Elapsed.TotalSeconds
    (proc.TotalProcessorTime - cpu0).TotalSeconds
    System.Environment.ProcessorCount

// The first 24 clocks with their labels as captions (h:mm, 0 = 12 o'clock).
let shown = min 24 clocks.Count
let captions = [ for s in Seq.take shown clocks.Specs -> sprintf "%d:%02d" s.Hour s.Minute ]
let first = clocks.Images.Narrow(0L, 0L, int64 shown)
ImageGrid.Write(System.IO.Path.Combine(out, "clocks.png"), first, columns = 6, captions = captions)

// Seed 004's preprocessing: darken the dark pixels, the darker the more.
let contrasted = DarkContrast(threshold = 0.6, strength = 1.0).Apply(first)
ImageGrid.Write(System.IO.Path.Combine(out, "clocks_contrast.png"), contrasted, columns = 6, captions = captions)
printfn "wrote %s/clocks.png and clocks_contrast.png" out

// The common-sense error: minutes between two times, the short way round the dial.
printfn "common-sense error 3:59 vs 4:01 = %d, 11:59 vs 0:01 = %d" (Clocks.CommonSenseError(3, 59, 4, 1)) (Clocks.CommonSenseError(11, 59, 0, 1))
