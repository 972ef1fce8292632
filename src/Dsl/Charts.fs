namespace Dsl

open System
open ScottPlot

/// How a series of `Plot.lines` is drawn.
type SeriesStyle =
    | Line
    | Markers
    | LineAndMarkers

/// One series of a line chart: its legend label ("" for none), its points and style, and an optional
/// colour as "#rrggbb" (else the palette's next).
type Series = { Label: string; Points: (float * float) list; Style: SeriesStyle; Color: string option }

/// Options of `Plot.lines`: title, axis labels, logarithmic axes, vertical reference lines (x, label) and
/// the picture's size in pixels.
type LinesPlot = {
    Title: string
    XLabel: string
    YLabel: string
    LogX: bool
    LogY: bool
    VerticalLines: (float * string) list
    Width: int
    Height: int
} with

    /// No title or labels, linear axes, 760×460.
    static member Default = { Title = ""; XLabel = ""; YLabel = ""; LogX = false; LogY = false; VerticalLines = []; Width = 760; Height = 460 }

/// The ScottPlot charts behind `Plot`: each builder returns a `ScottPlot.Plot` that can be customised
/// before `Charts.save` writes it. Text is drawn in DejaVu Sans (fonts-dejavu-core), the font of `Dsl.Data.Fonts`.
module Charts =
    /// The font family every chart uses.
    let fontName = "DejaVu Sans"

    let private fonts =
        lazy
            (match Dsl.Data.Fonts.SansFile with
             | null -> ()
             | file ->
                 ScottPlot.Fonts.AddFontFile(fontName, file, false, false)
                 let bold = IO.Path.Combine(IO.Path.GetDirectoryName file |> string, "DejaVuSans-Bold.ttf")
                 if IO.File.Exists bold then ScottPlot.Fonts.AddFontFile(fontName, bold, true, false)
                 ScottPlot.Fonts.Default <- fontName)

    /// A new chart with the project's font, title and axis labels.
    let create (title: string) (xLabel: string) (yLabel: string) : ScottPlot.Plot =
        fonts.Force()
        let p = new ScottPlot.Plot()
        p.Font.Set(fontName, FontWeight.Normal, FontSlant.Upright, FontSpacing.Normal) |> ignore
        if title <> "" then p.Title(title, Nullable 15.0f)
        if xLabel <> "" then p.XLabel(xLabel, Nullable 13.0f)
        if yLabel <> "" then p.YLabel(yLabel, Nullable 13.0f)
        p

    /// Tick labels of a log10 axis: 10^k shown as the value (0.001, 1, 1000, or 1e-05).
    let private logTicks () =
        let t = TickGenerators.NumericAutomatic()
        t.LabelFormatter <- fun v -> (10.0 ** v).ToString("G3", Globalization.CultureInfo.InvariantCulture).Replace("E-0", "e-").Replace("E+0", "e").Replace("E", "e")
        t.MinorTickGenerator <- TickGenerators.LogMinorTickGenerator()
        t.IntegerTicksOnly <- true
        t

    /// Sets the bottom (x) axis to show log10 coordinates as their values.
    let logX (p: ScottPlot.Plot) = p.Axes.Bottom.TickGenerator <- logTicks ()

    /// Sets the left (y) axis to show log10 coordinates as their values.
    let logY (p: ScottPlot.Plot) = p.Axes.Left.TickGenerator <- logTicks ()

    /// Integer ticks only on the x axis (epochs).
    let integerX (p: ScottPlot.Plot) =
        let t = TickGenerators.NumericAutomatic()
        t.IntegerTicksOnly <- true
        p.Axes.Bottom.TickGenerator <- t

    /// Adds a series of points (non-finite values are left out; on a log axis, so are values ≤ 0).
    let addSeries (p: ScottPlot.Plot) (logX: bool) (logY: bool) (s: Series) =
        let ok v log = Double.IsFinite v && (not log || v > 0.0)
        let pts = s.Points |> List.filter (fun (x, y) -> ok x logX && ok y logY)
        if not pts.IsEmpty then
            let tx, ty = (if logX then log10 else id), (if logY then log10 else id)
            let xs, ys = pts |> List.map (fst >> tx) |> Array.ofList, pts |> List.map (snd >> ty) |> Array.ofList
            let sc = p.Add.Scatter(xs, ys)
            s.Color |> Option.iter (fun c -> sc.Color <- Color.FromHex c)
            sc.LegendText <- s.Label
            match s.Style with
            | Line -> sc.MarkerSize <- (if xs.Length = 1 then 6f else 0f)
            | Markers ->
                sc.LineWidth <- 0f
                sc.MarkerSize <- 5f
            | LineAndMarkers -> sc.MarkerSize <- 6f
            sc.LineWidth <- (if s.Style = Markers then 0f else 2f)

    /// The x ticks of a line chart. On a log axis with at most 12 distinct x values spread enough to label
    /// each (a series over batch sizes or widths spans a decade or so, where powers of ten alone leave one tick
    /// or none), a tick at every value, labelled with it; with integer x values only (threads, epochs, layers)
    /// integer ticks; else ScottPlot's.
    let xTicks (p: ScottPlot.Plot) (isLogX: bool) (series: Series list) =
        let xs = series |> List.collect (fun s -> List.map fst s.Points) |> List.filter (fun x -> Double.IsFinite x && (not isLogX || x > 0.0)) |> List.distinct |> List.sort
        let at = xs |> List.map (fun x -> if isLogX then log10 x else x)
        let spread = at.Length >= 2 && (at |> List.pairwise |> List.map (fun (a, b) -> b - a) |> List.min) >= (List.last at - at.Head) / 40.0
        if isLogX && xs.Length <= 12 && spread then
            let label (x: float) = x.ToString("G4", Globalization.CultureInfo.InvariantCulture)
            p.Axes.Bottom.SetTicks(Array.ofList at, xs |> List.map label |> Array.ofList)
        elif isLogX then
            logX p
        elif not xs.IsEmpty && xs |> List.forall (fun x -> x = Math.Round x) then
            integerX p

    /// A line chart of series (see `LinesPlot`). The legend sits to the right of the plot, where it hides no point.
    let lines (o: LinesPlot) (series: Series list) : ScottPlot.Plot =
        let p = create o.Title o.XLabel o.YLabel
        for s in series do
            addSeries p o.LogX o.LogY s
        for (x, label) in o.VerticalLines do
            let v = p.Add.VerticalLine((if o.LogX then log10 x else x), 1.5f, Nullable Colors.Gray, LinePattern.Dashed)
            v.LegendText <- label
        xTicks p o.LogX series
        if o.LogY then logY p
        if series |> List.exists (fun s -> s.Label <> "") || not o.VerticalLines.IsEmpty then p.ShowLegend(Edge.Right) |> ignore
        p

    /// Renders charts side by side, each `width`×`height` pixels, on one canvas.
    let render (canvas: SkiaSharp.SKCanvas) (width: int) (height: int) (charts: ScottPlot.Plot list) =
        charts
        |> List.iteri (fun i p ->
            canvas.Save() |> ignore
            canvas.Translate(float32 (i * width), 0f)
            canvas.ClipRect(SkiaSharp.SKRect(0f, 0f, float32 width, float32 height))
            p.Render(canvas, width, height)
            canvas.Restore())

    /// Writes charts side by side, each `width`×`height` pixels, to `path` (PNG or SVG by the extension),
    /// atomically, and disposes them.
    let save (who: string) (path: string) (width: int) (height: int) (charts: ScottPlot.Plot list) =
        try
            Picture.write who path (width * charts.Length) height (fun canvas -> render canvas width height charts)
        finally
            for c in charts do
                c.Dispose()
