/// The charts of the scaling series (bench/charts/S1_batch.png …), drawn with the project's plotting
/// (Dsl.Charts, ScottPlot) and written atomically (Charts.save → Picture.write). bench/README.md embeds them.
module Bench.ScalingCharts

open System.IO
open Dsl
open Bench.Scaling

/// Each side's colour and legend name on every chart.
let private style = dict [ "dsl", ("#1f77b4", "Dsl"); "torch_py", ("#ff7f0e", "PyTorch"); "cpp", ("#2ca02c", "C++ libtorch") ]

/// One chart series per side (sides without a finite point are left out), y = f x figure.
let lineSeries (suffix: string) (label: string) (f: int -> float -> float) (points: Point list) : Dsl.Series list = [
    for side in sides do
        let pts = curve side label f points
        if not pts.IsEmpty then
            let color, name = style[side]
            yield { Label = name + suffix; Points = pts; Style = LineAndMarkers; Color = Some color }
]

/// The chart file of a series.
let fileName (series: string) =
    match series with
    | "S1" -> "S1_batch.png"
    | "S2" -> "S2_width.png"
    | "S3" -> "S3_threads.png"
    | "S4" -> "S4_loader_rss.png"
    | other -> invalidArg "series" (sprintf "ScalingCharts.fileName: unknown series %s" other)

let private panel (title: string) (xLabel: string) (yLabel: string) (logX: bool) (logY: bool) (series: Dsl.Series list) =
    Charts.lines { LinesPlot.Default with Title = title; XLabel = xLabel; YLabel = yLabel; LogX = logX; LogY = logY } series

/// The panels of one series' chart (side by side in one PNG).
let panels (series: string) (peakGflops: float) (stamp: string) (points: Point list) : ScottPlot.Plot list =
    let asIs _ v = v
    match series with
    | "S1" -> [
        panel (sprintf "S1: B3 CNN step against batch (%s)" stamp) "batch (log)" "ms per step (log)" true true (lineSeries "" "" asIs points)
        panel "S1: time per sample" "batch (log)" "µs per sample" true false (lineSeries "" "" (fun b ms -> 1000.0 * ms / float b) points)
      ]
    | "S2" -> [
        panel (sprintf "S2: MLP step (batch 256) against width (%s)" stamp) "width (log)" "ms per step (log)" true true (lineSeries "" "" asIs points)
        panel
            (sprintf "S2: share of the SGEMM peak (%.0f GFLOP/s)" peakGflops)
            "width (log)"
            "% of peak"
            true
            false
            (lineSeries "" "" (fun w ms -> 100.0 * s2Flops w / (ms * 1e-3) / 1e9 / peakGflops) points)
      ]
    | "S3" -> [
        for bench in threadBenches -> panel (sprintf "S3: %s against intra-op threads (%s)" bench stamp) "threads" "ms per step" false false (lineSeries "" bench asIs points)
      ]
    | "S4" ->
        let data: Dsl.Series = {
            Label = "the data" // float32 images and int64 labels (bench/README.md, S4); a short label leaves the plot its width
            Points = [ for p in points |> List.distinctBy (fun p -> p.X) |> List.sortBy (fun p -> p.X) -> float p.X, datasetMb p.X ]
            Style = Line
            Color = Some "#7f7f7f"
        }
        [
            panel (sprintf "S4: peak RSS against data size (%s)" stamp) "samples" "peak RSS (MB)" false false (lineSeries "" "peak" asIs points @ [ data ])
            panel "S4: peak RSS above the RSS before the data" "samples" "MB" false false (lineSeries "" "growth" asIs points @ [ data ])
        ]
    | other -> invalidArg "series" (sprintf "ScalingCharts.panels: unknown series %s" other)

/// Writes one series' chart into `dir` (created if needed); returns its path.
let write (dir: string) (series: string) (peakGflops: float) (stamp: string) (points: Point list) =
    Directory.CreateDirectory dir |> ignore
    let path = Path.Combine(dir, fileName series)
    let ps = panels series peakGflops stamp points
    Charts.save "bench scaling chart" path 620 420 ps
    path
