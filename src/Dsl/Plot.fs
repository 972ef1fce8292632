namespace Dsl

open System
open SkiaSharp
open ScottPlot
open Dsl.Engine

/// Options of `Plot.history`: the epoch whose weights early stopping restored (marked), and each panel's
/// size in pixels (one panel per quantity, side by side).
type HistoryPlot = {
    Restored: int option
    PanelWidth: int
    PanelHeight: int
} with

    /// No restored epoch, 480×360 panels.
    static member Default = { Restored = None; PanelWidth = 480; PanelHeight = 360 }

/// Options of the image grids `Plot.predictions` and `Plot.samples`: tiles per row, the scale of each
/// image (nearest neighbour; 0 scales small images up to at least 120 pixels wide, so captions fit) and the
/// captions' font size.
type GridPlot = {
    Columns: int
    Scale: int
    FontSize: float
} with

    /// 8 columns, automatic scale, 11-pixel captions.
    static member Default = { Columns = 8; Scale = 0; FontSize = 11.0 }

/// Pictures of training and of studies, drawn by ScottPlot (charts) and SkiaSharp (image grids). Each
/// writes PNG or SVG by the file's extension, atomically, and refuses bad input with a clear message.
module Plot =
    let private distinct (xs: string list) = List.distinct xs

    /// The quantities of a history: loss and each metric, training and validation together ("val_" dropped).
    let quantities (history: EpochLogs list) =
        history |> List.collect (fun l -> l.Values |> List.map fst) |> List.map (fun n -> if n.StartsWith "val_" then n.Substring 4 else n) |> distinct

    /// The epochs at which the learning rate differs from the epoch before, with the new rate.
    let rateChanges (history: EpochLogs list) =
        history |> List.pairwise |> List.choose (fun (a, b) -> if a.LearningRate <> b.LearningRate then Some(b.Epoch, b.LearningRate) else None)

    let private checkHistory (who: string) (history: EpochLogs list) =
        if history.IsEmpty then invalidArg "history" (sprintf "%s: the history is empty (no epoch finished); train at least one epoch first" who)

    /// The charts of `Plot.history`: one per quantity (training and validation), plus the learning rate
    /// when it changes more than five times (a schedule); fewer changes are marked on every chart.
    let historyCharts (o: HistoryPlot) (history: EpochLogs list) : ScottPlot.Plot list =
        checkHistory "Plot.history" history
        let changes = rateChanges history
        let marks (p: ScottPlot.Plot) =
            o.Restored
            |> Option.iter (fun e ->
                let v = p.Add.VerticalLine(float e, 2f, Nullable(Color.FromHex "#2ca02c"), LinePattern.Dashed)
                v.LegendText <- sprintf "restored weights (epoch %d)" e)
            // One legend entry for all the changes (the lines look alike): "learning rate 0.0005, 0.00025 from epochs 33, 41".
            if changes.Length <= 5 then
                changes
                |> List.iteri (fun i (e, _) ->
                    let v = p.Add.VerticalLine(float e - 0.5, 1.5f, Nullable Colors.Gray, LinePattern.Dotted)
                    if i = 0 then
                        let rates = changes |> List.map (snd >> sprintf "%g") |> String.concat ", "
                        let epochs = changes |> List.map (fst >> string) |> String.concat ", "
                        v.LegendText <- sprintf "learning rate %s from epoch%s %s" rates (if changes.Length > 1 then "s" else "") epochs)
        let series name = [
            for l in history do
                match l.TryGet name with
                | Some v -> float l.Epoch, v
                | None -> ()
        ]
        let charts = [
            for q in quantities history do
                let p = Charts.create q "epoch" q
                Charts.addSeries p false false { Label = "training"; Points = series q; Style = LineAndMarkers; Color = Some "#1f77b4" }
                Charts.addSeries p false false { Label = "validation"; Points = series ("val_" + q); Style = LineAndMarkers; Color = Some "#ff7f0e" }
                marks p
                Charts.integerX p
                // Below the plot, one entry per row: a row of them ran off the panel's edge.
                p.ShowLegend(Edge.Bottom) |> ignore
                p.Legend.Orientation <- Orientation.Vertical
                p
            if changes.Length > 5 then
                let p = Charts.create "learning rate" "epoch" "learning rate"
                Charts.addSeries p false true {
                    Label = "learning rate"
                    Points = [ for l in history -> float l.Epoch, l.LearningRate ]
                    Style = LineAndMarkers
                    Color = Some "#7f7f7f"
                }
                Charts.logY p
                Charts.integerX p
                p
        ]
        charts

    /// Loss and each metric per epoch, training and validation on one chart per quantity, side by side;
    /// marks the epoch early stopping restored (`o.Restored`) and the epochs where the learning rate changed.
    let historyWith (o: HistoryPlot) (path: string) (history: EpochLogs list) =
        Picture.check "Plot.history" path
        Charts.save "Plot.history" path o.PanelWidth o.PanelHeight (historyCharts o history)

    /// `historyWith HistoryPlot.Default`.
    let history (path: string) (history: EpochLogs list) = historyWith HistoryPlot.Default path history

    /// The heatmap chart of `Plot.confusionMatrix`: row-normalised shares coloured, each cell labelled with
    /// its count and share, class names on both axes (true classes down, predicted across).
    let confusionChart (c: Confusion) : ScottPlot.Plot =
        let c = Confusion.create c.Classes c.Counts
        let n = c.Classes.Length
        let shares = c.Shares
        let p = Charts.create (sprintf "Confusion matrix (%d samples, accuracy %.2f%%)" c.Total (100.0 * c.Accuracy)) "predicted" "true"
        let hm = p.Add.Heatmap(Array2D.copy shares)
        hm.Colormap <- Colormaps.Reversed(Colormaps.Blues())
        hm.ManualRange <- Nullable(ScottPlot.Range(0.0, 1.0))
        // The extent places the corner cells' centres: cell (t, q) covers x in [q, q + 1], y in [n - t - 1, n - t].
        hm.Extent <- Nullable(CoordinateRect(0.5, float n - 0.5, 0.5, float n - 0.5))
        let fontSize = float32 (max 7 (min 13 (200 / n)))
        for t in 0 .. n - 1 do
            for q in 0 .. n - 1 do
                let label = p.Add.Text(sprintf "%d\n%.0f%%" c.Counts.[t, q] (100.0 * shares.[t, q]), float q + 0.5, float (n - t) - 0.5)
                label.Alignment <- Alignment.MiddleCenter
                label.LabelFontSize <- fontSize
                label.LabelFontColor <- (if shares.[t, q] > 0.5 then Colors.White else Colors.Black)
        let positions = [| for i in 0 .. n - 1 -> float i + 0.5 |]
        p.Axes.Bottom.SetTicks(positions, Array.ofList c.Classes)
        p.Axes.Bottom.TickLabelStyle.Rotation <- 45f
        // Anchored at their upper-left corner: a rotated name starts below the axis instead of across it.
        p.Axes.Bottom.TickLabelStyle.Alignment <- Alignment.UpperLeft
        p.Axes.Left.SetTicks(positions |> Array.rev, Array.ofList c.Classes)
        p.Axes.SetLimits(0.0, float n, 0.0, float n)
        p.HideGrid()
        let longest = c.Classes |> List.map String.length |> List.max
        let room = float32 (20 + 6 * min 24 longest)
        p.Axes.Bottom.MinimumSize <- room
        p.Axes.Right.MinimumSize <- room * 0.7f
        p

    /// The confusion matrix as a heatmap with class names on both axes, and beside it the most-confused
    /// pairs (true → predicted, count, share of the true class). `size` is the heatmap's (square) side in pixels.
    let confusionMatrixWith (size: int) (path: string) (c: Confusion) =
        Picture.check "Plot.confusionMatrix" path
        let chart = confusionChart c
        let side = 300
        let pairs = c.MostConfused 10
        try
            Picture.write "Plot.confusionMatrix" path (size + side) size (fun canvas ->
                Charts.render canvas size size [ chart ]
                use font = new SKFont(Dsl.Data.Fonts.Sans, 13f)
                use ink = new SKPaint(Color = SKColors.Black, IsAntialias = true)
                let x = float32 size + 10f
                canvas.DrawText("Most confused (true → predicted)", x, 40f, SKTextAlign.Left, font, ink)
                font.Size <- 12f
                if pairs.IsEmpty then canvas.DrawText("none: every sample is on the diagonal", x, 64f, SKTextAlign.Left, font, ink)
                pairs
                |> List.iteri (fun i (t, q, count, share) ->
                    canvas.DrawText(sprintf "%s → %s: %d (%.1f%%)" t q count (100.0 * share), x, 64f + 20f * float32 i, SKTextAlign.Left, font, ink)))
        finally
            chart.Dispose()

    /// The confusion matrix from class names and counts [true, predicted] (see `confusionMatrixWith`); the
    /// names must match the matrix.
    let confusionMatrix (path: string) (classNames: string list) (counts: int64[,]) =
        confusionMatrixWith (max 420 (60 * classNames.Length)) path (Confusion.create classNames counts)

    /// A grid of images with their true and predicted labels and the predicted class's probability; wrong
    /// predictions are framed in red. Images are [N, H, W], [N, 1, H, W] or [N, 3, H, W] (uint8, or floating:
    /// those outside [0, 1], such as standardised inputs, are stretched per image), one prediction each.
    let predictionsWith (o: GridPlot) (path: string) (classNames: string list) (images: Tensor) (predictions: Predicted list) =
        let who = "Plot.predictions"
        Picture.check who path
        images.ThrowIfDisposed who
        let n = if images.Dim >= 3 then int (images.Size 0) else 0
        if images.Dim < 3 || images.Dim > 4 then
            invalidArg "images" (sprintf "%s: images must be [N, H, W], [N, 1, H, W] or [N, 3, H, W], got [%s]" who (String.Join(", ", images.Shape)))
        if predictions.Length <> n then invalidArg "predictions" (sprintf "%s: %d predictions for %d images; give one per image" who predictions.Length n)
        let name i =
            if i >= 0 && i < classNames.Length then
                classNames.[i]
            else
                invalidArg "classNames" (sprintf "%s: class %d has no name; %d class names were given (one per class)" who i classNames.Length)
        let captions = [ for p in predictions -> sprintf "true: %s\npred: %s %.0f%%" (name p.Actual) (name p.Predicted) (100.0 * p.Probability) ]
        let frames = [ for p in predictions -> if p.Actual = p.Predicted then "" else "#e00000" ]
        Picture.grid who path images o.Columns o.Scale (float32 o.FontSize) captions (Some frames)

    /// `predictionsWith GridPlot.Default`.
    let predictions (path: string) (classNames: string list) (images: Tensor) (predictions: Predicted list) = predictionsWith GridPlot.Default path classNames images predictions

    /// A grid of images (a batch [N, H, W], [N, 1, H, W] or [N, 3, H, W]) with a caption under each (a caption
    /// may have several lines).
    let samplesWith (o: GridPlot) (path: string) (images: Tensor) (captions: string list) =
        Picture.check "Plot.samples" path
        Picture.grid "Plot.samples" path images o.Columns o.Scale (float32 o.FontSize) captions None

    /// `samplesWith GridPlot.Default`.
    let samples (path: string) (images: Tensor) (captions: string list) = samplesWith GridPlot.Default path images captions

    /// A grid of separate images ([H, W], [1, H, W] or [3, H, W], all of one size) with captions.
    let sampleList (path: string) (images: Tensor list) (captions: string list) =
        use _ = DisposeScope.Enter()
        samples path (Picture.stack "Plot.samples" images) captions

    /// The chart of `Plot.lrFinder`: smoothed loss against the learning rate (log axis), the suggestion marked.
    let lrFinderChart (f: LearningRateFinding) : ScottPlot.Plot =
        if f.Curve.IsEmpty then invalidArg "finding" "Plot.lrFinder: the curve is empty; run Training.findLearningRate for at least one step"
        let p =
            Charts.lines { LinesPlot.Default with Title = sprintf "LR range test: suggested %.3g" f.Suggested; XLabel = "learning rate"; YLabel = "smoothed loss"; LogX = true } [
                { Label = "smoothed loss"; Points = f.Curve; Style = SeriesStyle.Line; Color = Some "#1f77b4" }
            ]
        let v = p.Add.VerticalLine(log10 f.Suggested, 2f, Nullable(Color.FromHex "#d62728"), LinePattern.Dashed)
        v.LegendText <- sprintf "suggested %.3g" f.Suggested
        p

    /// Loss against learning rate (log axis) from `Training.findLearningRate`, with the suggested rate marked.
    let lrFinderWith (width: int) (height: int) (path: string) (f: LearningRateFinding) =
        Picture.check "Plot.lrFinder" path
        Charts.save "Plot.lrFinder" path width height [ lrFinderChart f ]

    /// `lrFinderWith 760 460`.
    let lrFinder (path: string) (f: LearningRateFinding) = lrFinderWith 760 460 path f

    /// A line chart of series for studies (std by layer, test error against model size, ...); see `LinesPlot`.
    let lines (o: LinesPlot) (path: string) (series: Series list) =
        Picture.check "Plot.lines" path
        if series |> List.forall (fun s -> s.Points |> List.forall (fun (x, y) -> not (Double.IsFinite x && Double.IsFinite y))) then
            invalidArg "series" "Plot.lines: no series has a finite point; give at least one point"
        Charts.save "Plot.lines" path o.Width o.Height [ Charts.lines o series ]
