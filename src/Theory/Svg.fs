/// A minimal SVG line-chart writer (no plotting package is available): series of (x, y) points as
/// lines or markers, an optional logarithmic y axis, vertical reference lines, ticks and a legend.
module Dsl.Theory.Svg

open System
open System.Globalization
open System.Text

/// How a series is drawn.
type Style =
    | Line
    | Markers

/// One series of a chart.
type Series = { Label: string; Color: string; Style: Style; Points: (float * float) list }

/// A chart: title, axis labels, series, vertical reference lines (x, label) and whether y is logarithmic.
type Chart = { Title: string; XLabel: string; YLabel: string; LogY: bool; Series: Series list; VerticalLines: (float * string) list }

let private f (x: float) = x.ToString("0.##", CultureInfo.InvariantCulture)

let private esc (s: string) = s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;")

/// "Nice" tick values covering [lo, hi].
let private ticks (lo: float) (hi: float) =
    let span = max 1e-12 (hi - lo)
    let raw = span / 6.0
    let mag = 10.0 ** floor (log10 raw)
    let step = [ 1.0; 2.0; 5.0; 10.0 ] |> List.map ((*) mag) |> List.find (fun s -> s >= raw)
    [ for k in ceil (lo / step) .. floor (hi / step) -> k * step ]

/// The chart as SVG text (width × height pixels).
let render (width: int) (height: int) (c: Chart) : string =
    let left, right, top, bottom = 70.0, 20.0, 40.0, 50.0
    let w, h = float width - left - right, float height - top - bottom
    let ty y = if c.LogY then log10 y else y
    let pts = c.Series |> List.collect (fun s -> s.Points) |> List.filter (fun (_, y) -> not (Double.IsNaN y || Double.IsInfinity y) && (not c.LogY || y > 0.0))
    let xs, ys = pts |> List.map fst, pts |> List.map (snd >> ty)
    let x0, x1 = List.min xs, List.max xs
    let y0, y1 = List.min ys, List.max ys
    let y0, y1 = if y1 - y0 < 1e-12 then y0 - 1.0, y1 + 1.0 else y0 - 0.05 * (y1 - y0), y1 + 0.05 * (y1 - y0)
    let px x = left + (x - x0) / (x1 - x0) * w
    let py y = top + h - (ty y - y0) / (y1 - y0) * h
    let pyRaw t = top + h - (t - y0) / (y1 - y0) * h
    let sb = StringBuilder()
    let add (s: string) = sb.AppendLine s |> ignore
    add (sprintf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">" width height)
    add (sprintf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>" width height)
    add (sprintf "<text x=\"%s\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">%s</text>" (f (float width / 2.0)) (esc c.Title))
    // axes, ticks and grid
    add (sprintf "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"black\"/>" (f left) (f top) (f w) (f h))
    for t in ticks x0 x1 do
        add (sprintf "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#ddd\"/>" (f (px t)) (f top) (f (px t)) (f (top + h)))
        add (sprintf "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>" (f (px t)) (f (top + h + 16.0)) (t.ToString("G4", CultureInfo.InvariantCulture)))
    for t in ticks y0 y1 do
        let label = if c.LogY then (10.0 ** t).ToString("G3", CultureInfo.InvariantCulture) else t.ToString("G4", CultureInfo.InvariantCulture)
        add (sprintf "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#ddd\"/>" (f left) (f (pyRaw t)) (f (left + w)) (f (pyRaw t)))
        add (sprintf "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>" (f (left - 6.0)) (f (pyRaw t + 4.0)) label)
    add (sprintf "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>" (f (left + w / 2.0)) (height - 12) (esc c.XLabel))
    add (
        sprintf
            "<text x=\"16\" y=\"%s\" text-anchor=\"middle\" transform=\"rotate(-90 16 %s)\">%s</text>"
            (f (top + h / 2.0))
            (f (top + h / 2.0))
            (esc (c.YLabel + (if c.LogY then " (log scale)" else "")))
    )
    for (x, label) in c.VerticalLines do
        add (sprintf "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"gray\" stroke-dasharray=\"5,4\"/>" (f (px x)) (f top) (f (px x)) (f (top + h)))
        add (sprintf "<text x=\"%s\" y=\"%s\" fill=\"gray\">%s</text>" (f (px x + 4.0)) (f (top + 14.0)) (esc label))
    // series, clipped to the plot area
    add (sprintf "<clipPath id=\"plot\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/></clipPath>" (f left) (f top) (f w) (f h))
    add "<g clip-path=\"url(#plot)\">"
    for s in c.Series do
        let ok = s.Points |> List.filter (fun (_, y) -> not (Double.IsNaN y) && (not c.LogY || y > 0.0))
        let ok = ok |> List.map (fun (x, y) -> x, (if Double.IsPositiveInfinity y then 10.0 ** (y1 + 1.0) else y))
        match s.Style with
        | Line ->
            let path = ok |> List.map (fun (x, y) -> sprintf "%s,%s" (f (px x)) (f (max (top - 10.0) (py y)))) |> String.concat " "
            add (sprintf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>" path s.Color)
        | Markers ->
            for (x, y) in ok do
                add (sprintf "<circle cx=\"%s\" cy=\"%s\" r=\"2.5\" fill=\"%s\"/>" (f (px x)) (f (py y)) s.Color)
    add "</g>"
    // legend
    c.Series
    |> List.filter (fun s -> s.Label <> "")
    |> List.iteri (fun i s ->
        let y = top + 14.0 + 16.0 * float i
        let x = left + w - 230.0
        match s.Style with
        | Line -> add (sprintf "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"/>" (f x) (f (y - 4.0)) (f (x + 20.0)) (f (y - 4.0)) s.Color)
        | Markers -> add (sprintf "<circle cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"/>" (f (x + 10.0)) (f (y - 4.0)) s.Color)
        add (sprintf "<text x=\"%s\" y=\"%s\">%s</text>" (f (x + 26.0)) (f y) (esc s.Label)))
    add "</svg>"
    sb.ToString()

/// Writes the chart to `path` as SVG.
let save (path: string) (width: int) (height: int) (c: Chart) = IO.File.WriteAllText(path, render width height c)
