/// The scaling series of issue #19 ("How cost grows"), as data: which points each series has, the request
/// name a side gets for a point (`S1:64`), how many reps and iterations a point is measured with, and how
/// measured points become results.json's `scaling` section and the series of a chart. Pure: the runs are in
/// ScalingRun.fs, the sides' work in DslSide.fs, bench/torch_bench.py and bench/cpp/bench.cpp.
///   S1  the B3 CNN training step against batch size (ms per step, µs per sample)
///   S2  B2's MLP (10 → width → width → 1, batch 256) against width (ms per step, GFLOP/s, share of the peak)
///   S3  B2 and B3 against intra-op threads (each side's worker started with that count)
///   S4  the loader's peak RSS against dataset size (fresh processes; one epoch of batches of 128)
module Bench.Scaling

open System
open System.Text.Json.Nodes
open Bench.Protocol

/// The series ids, in the order they run.
let ids = [ "S1"; "S2"; "S3"; "S4" ]

/// S1's batch sizes.
let batches = [ 16; 32; 64; 128; 256 ]

/// S2's widths (B2's depth and batch: 10 → width → width → 1, batch 256).
let widths = [ 256; 512; 1024; 2048; 4096 ]

/// S2's batch (B2's).
let mlpBatch = 256

/// S4's dataset sizes: Fashion-MNIST-shaped samples (float32 [N, 1, 28, 28] in [0, 1], int64 labels).
let datasetSizes = [ 10_000; 30_000; 60_000 ]

/// S4's batch size (B4's).
let loaderBatch = 128

/// S3's intra-op thread counts: 1, 2 and all cores when there are more (sorted, distinct).
let threadCounts (cores: int) = [ 1; 2; max 1 cores ] |> List.distinct |> List.sort

/// S3's benchmarks.
let threadBenches = [ "B2"; "B3" ]

/// The request name of a point: `S1:64` (series, then the point's x).
let request (series: string) (x: int) = sprintf "%s:%d" series x

/// A request name `S<k>:<x>` back to (series, x); None for any other name (B1, S1, S1:x, S9:4, S1:-3).
let parse (name: string) : (string * int) option =
    match name.Split ':' with
    | [| s; x |] when List.contains s ids ->
        match Int32.TryParse(x, Globalization.NumberStyles.None, Globalization.CultureInfo.InvariantCulture) with
        | true, v when v > 0 -> Some(s, v)
        | _ -> None
    | _ -> None

/// How one point is measured: reps, iterations per rep, untimed warm-up iterations. Iterations shrink as the
/// work per iteration grows, so that a request takes about the same time at every point (~0.3 s per side on
/// the 2-core VM; the quick mode's counts only check that everything runs).
type Counts = { Reps: int; Iters: int; Warm: int }

/// S1's counts at batch `b`: B3 at 128 takes ~30–65 ms per step on 2 cores; 4 iterations there.
let s1Counts (quick: bool) (b: int) = if quick then { Reps = 1; Iters = 1; Warm = 1 } else { Reps = 2; Iters = max 1 (4 * 128 / b); Warm = 1 }

/// S2's counts at width `w`: the step's FLOPs grow as w², from 0.1 GFLOP (1–3 ms) at 256 to 26 GFLOP at 4096.
let s2Counts (quick: bool) (w: int) =
    if quick then
        { Reps = 1; Iters = 1; Warm = 1 }
    else
        let iters = max 1 (int (100.0 * (256.0 / float w) ** 2.0))
        { Reps = 2; Iters = iters; Warm = (if w >= 2048 then 1 else 2) }

/// S3's counts for B2 and B3 (the main run's B2/B3 requests, fewer reps).
let s3Counts (quick: bool) (bench: string) =
    match quick, bench with
    | true, "B2" -> { Reps = 1; Iters = 10; Warm = 2 }
    | true, _ -> { Reps = 1; Iters = 1; Warm = 1 }
    | false, "B2" -> { Reps = 2; Iters = 100; Warm = 10 }
    | false, _ -> { Reps = 2; Iters = 4; Warm = 1 }

/// FLOPs of one S1 step (B3's CNN at batch `b`) and one S2 step (the MLP at width `w`), as Flops.fs counts.
let s1Flops (b: int) = Flops.train (int64 b) Flops.cnnMacs

/// FLOPs of one S2 step at width `w` (batch 256).
let s2Flops (w: int) = Flops.train (int64 mlpBatch) (Flops.mlpWidthMacs (int64 w))

/// Megabytes of S4's data itself: N float32 images of 784 pixels and N int64 labels.
let datasetMb (n: int) = float n * (784.0 * 4.0 + 8.0) / (1024.0 * 1024.0)

/// The sides, in the order of results.json and the charts.
let sides = [ "dsl"; "torch_py"; "cpp" ]

/// One measured point: the series' x (batch, width, threads or samples), a label that tells the points of
/// one x apart (S3: the benchmark; S4: "peak" for the peak RSS, "growth" for the peak above the RSS before
/// the data; "" elsewhere), every side's figure (the minimum over its rounds; NaN
/// when it has none), and the JSON details of each side (its rounds, errors, ...).
type Point = { X: int; Label: string; Figures: Map<string, float>; Details: Map<string, JsonNode | null>; OtherCpuShare: float }

/// A side's figure at a point (NaN when absent).
let figure (side: string) (p: Point) = p.Figures |> Map.tryFind side |> Option.defaultValue nan

/// The (x, y) points of one side over a series' points with `label`, sorted by x, y = f x figure (points
/// whose y is not finite are left out: the chart would not show them anyway).
let curve (side: string) (label: string) (f: int -> float -> float) (points: Point list) =
    points
    |> List.filter (fun p -> p.Label = label)
    |> List.sortBy (fun p -> p.X)
    |> List.map (fun p -> float p.X, f p.X (figure side p))
    |> List.filter (fun (_, y) -> Double.IsFinite y)

/// Derived figures of a point, per side, for results.json: S1 µs per sample, S2 GFLOP/s and share of the
/// SGEMM peak, S3 the speed-up over one thread (needs the one-thread point), S4 the data's own size.
let derived (series: string) (peakGflops: float) (all: Point list) (p: Point) : (string * (JsonNode | null)) list =
    let perSide (f: float -> float) = obj [ for s in sides -> s, num (f (figure s p)) ]
    match series with
    | "S1" -> [ "per_sample_us", perSide (fun ms -> 1000.0 * ms / float p.X) ]
    | "S2" ->
        let gflops ms = s2Flops p.X / (ms * 1e-3) / 1e9
        [ "flops_per_iter", num (s2Flops p.X); "gflops", perSide gflops; "peak_share", perSide (fun ms -> gflops ms / peakGflops) ]
    | "S3" ->
        let one = all |> List.tryFind (fun q -> q.Label = p.Label && q.X = 1)
        [
            "speedup_over_1_thread",
            obj [
                for s in sides ->
                    s,
                    num (
                        match one with
                        | Some q -> figure s q / figure s p
                        | None -> nan
                    )
            ]
        ]
    | "S4" -> [ "data_mb", num (datasetMb p.X) ]
    | _ -> []

/// What a series' x means and its figures' unit, for results.json and the charts.
let axis (series: string) =
    match series with
    | "S1" -> "batch", "ms"
    | "S2" -> "width", "ms"
    | "S3" -> "threads", "ms"
    | "S4" -> "samples", "MB"
    | other -> invalidArg "series" (sprintf "Scaling.axis: unknown series %s (expected one of %s)" other (String.Join(", ", ids)))

/// results.json's entry for one series: x's meaning, the unit, and one object per point (x, label, each
/// side's details, the derived figures, the other processes' CPU share during the point).
let seriesJson (series: string) (peakGflops: float) (points: Point list) : JsonObject =
    let x, unit = axis series
    obj [
        "x", str x
        "unit", str unit
        "points",
        JsonArray(
            [|
                for p in points ->
                    obj (
                        [
                            yield x, num (float p.X)
                            if p.Label <> "" then yield (if series = "S3" then "bench" else "figure"), str p.Label
                            yield "min", (obj [ for s in sides -> s, num (figure s p) ] :> JsonNode | null)
                            yield! derived series peakGflops points p
                            for s in sides do
                                match p.Details |> Map.tryFind s with
                                | Some d -> yield s, d
                                | None -> ()
                            yield "other_processes_cpu_share", num p.OtherCpuShare
                        ]
                    )
                    :> JsonNode
            |]
        )
    ]

/// The result line of a point: `scaling S1 batch=64 dsl=… torch_py=… cpp=… ratio_py=… ratio_cpp=… unit=ms`,
/// then S1's µs per sample or S2's GFLOP/s and share of the peak for every side.
let line (series: string) (peakGflops: float) (p: Point) =
    let x, unit = axis series
    let ratio a b = if Double.IsNaN a || Double.IsNaN b || b = 0.0 then nan else a / b
    let d, y, c = figure "dsl" p, figure "torch_py" p, figure "cpp" p
    let label = if p.Label = "" then "" else " " + p.Label
    let each (f: float -> string) = String.Join(" ", [ for s in sides -> sprintf "%s=%s" s (f (figure s p)) ])
    let extra =
        match series with
        | "S1" -> " us_per_sample " + each (fun ms -> fmt (1000.0 * ms / float p.X))
        | "S2" ->
            let g ms = s2Flops p.X / (ms * 1e-3) / 1e9
            sprintf " gflops %s peak=%sGFLOP/s" (each (fun ms -> sprintf "%s(%s%%)" (fmt (g ms)) (fmt (100.0 * g ms / peakGflops)))) (fmt peakGflops)
        | "S4" -> sprintf " data=%sMB" (fmt (datasetMb p.X))
        | _ -> ""
    sprintf
        "scaling %s%s %s=%d dsl=%s torch_py=%s cpp=%s ratio_py=%s ratio_cpp=%s unit=%s%s"
        series
        label
        x
        p.X
        (fmt d)
        (fmt y)
        (fmt c)
        (fmt (ratio d y))
        (fmt (ratio d c))
        unit
        extra

/// Whether a run runs benchmark or series `id` (B1..B9, B8R/B8M, S1..S4): the ids `--only` names (B8 stands
/// for both zoo steps B8R and B8M; it wins over `--scaling`), else the scaling series alone with `--scaling`,
/// else every benchmark but the scaling series (the default full run).
let isWanted (only: Set<string> option) (scaling: bool) (id: string) =
    match only with
    | Some s -> s.Contains id || (id.StartsWith "B8" && s.Contains "B8")
    | None -> if scaling then List.contains id ids else not (List.contains id ids)
