/// Plot: every picture decodes back (PNG) or parses (SVG) with its size, axis ranges cover the data, class
/// names appear, wrong predictions are framed in red, and bad input is refused with a clear message.
module Dsl.Tests.Pictures

open System
open System.IO
open System.Xml.Linq
open Expecto
open FsCheck
open SkiaSharp
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

let private fashion = [ "T-shirt/top"; "Trouser"; "Pullover"; "Dress"; "Coat"; "Sandal"; "Shirt"; "Sneaker"; "Bag"; "Ankle boot" ]

/// A fresh folder for one test's pictures.
let tempDir () =
    let d = Path.Combine(Path.GetTempPath(), "dsl-pictures-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory d |> ignore
    d

/// The decoded PNG (fails when it does not decode).
let decode (path: string) : SKBitmap =
    match SKBitmap.Decode path with
    | null -> failtestf "%s does not decode as an image" path
    | b -> b

/// Every text of an SVG file (it must parse as XML).
let svgTexts (path: string) : string list =
    let doc = XDocument.Load path
    match doc.Root with
    | null -> failtestf "%s has no root element" path
    | root -> Expect.equal root.Name.LocalName "svg" (sprintf "%s's root element" path)
    [
        for e in doc.Descendants() do
            if e.Name.LocalName = "text" then yield e.Value
    ]

let private epochs (losses: float list) = [
    for i, l in List.indexed losses ->
        { Epoch = i + 1; Values = [ "loss", l; "accuracy", 1.0 / (1.0 + l); "val_loss", l * 1.1 ]; Seconds = 0.1; LearningRate = (if i < 3 then 1e-3 else 1e-4) }
]

let private red (c: SKColor) = c.Red > 200uy && c.Green < 60uy && c.Blue < 60uy

/// This module's tests, the Expecto list "Pictures" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Pictures" [
        testCase "history writes a PNG of one panel per quantity and an SVG that parses, naming each quantity"
        <| fun () ->
            let d = tempDir ()
            let h = epochs [ 2.0; 1.5; 1.0; 0.8; 0.7 ]
            Plot.history (Path.Combine(d, "h.png")) h
            use b = decode (Path.Combine(d, "h.png"))
            expectEqual "size (2 panels of 480×360: loss, accuracy)" (960, 360) (b.Width, b.Height)
            Plot.historyWith { HistoryPlot.Default with Restored = Some 4; PanelWidth = 300; PanelHeight = 200 } (Path.Combine(d, "h.svg")) h
            let texts = svgTexts (Path.Combine(d, "h.svg")) |> String.concat " | "
            for w in [ "loss"; "accuracy"; "epoch"; "training"; "validation"; "restored weights (epoch 4)"; "learning rate 0.0001 from epoch 4" ] do
                expectContains w texts

        testCase "history keeps every legend entry inside its panel, with three rate changes named in one entry"
        <| fun () ->
            let d = tempDir ()
            let rates = [| 1e-3; 1e-3; 5e-4; 5e-4; 2.5e-4; 2.5e-4; 1.25e-4; 1.25e-4 |]
            let h = [ for l in epochs [ 2.0; 1.5; 1.0; 0.8; 0.7; 0.65; 0.6; 0.58 ] -> { l with LearningRate = rates.[l.Epoch - 1] } ]
            let path = Path.Combine(d, "h.svg")
            Plot.historyWith { HistoryPlot.Default with Restored = Some 7 } path h
            let entries = [ "training"; "validation"; "restored weights (epoch 7)"; "learning rate 0.0005, 0.00025, 0.000125 from epochs 3, 5, 7" ]
            // Each text is translate(x y) with one x offset per glyph: where it starts and where its last glyph starts.
            let number (text: string) = Double.Parse(text.Trim(), Globalization.CultureInfo.InvariantCulture)
            let placed = [
                for e in XDocument.Load(path).Descendants() do
                    let text = e.Value.Trim()
                    if e.Name.LocalName = "text" && List.contains text entries then
                        let attr (name: string) =
                            match e.Attribute(XName.Get name) with
                            | null -> ""
                            | a -> a.Value
                        let at = Text.RegularExpressions.Regex.Match(attr "transform", @"translate\(([-0-9.e]+)[ ,]+([-0-9.e]+)\)")
                        Expect.isTrue at.Success (sprintf "'%s' is placed by a translate transform" text)
                        let glyphs = (attr "x").Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> Array.map number
                        yield text, number at.Groups.[1].Value, number at.Groups.[2].Value, Array.last glyphs
            ]
            for w in entries do
                Expect.isTrue (placed |> List.exists (fun (t, _, _, _) -> t = w)) (sprintf "'%s' is in a legend" w)
            for t, x, y, lastGlyph in placed do
                // Panels sit side by side, 480×360: the entry's last glyph must start at least 6 pixels inside its panel.
                let right = (floor (x / 480.0) + 1.0) * 480.0
                if not (y > 0.0 && y < 360.0 && x + lastGlyph + 6.0 <= right) then
                    failtestf "the legend entry '%s' at (%g, %g) runs past its 480×360 panel (its last glyph at %g)" t x y (x + lastGlyph)

        testPropertyWithConfig (maxTest 25) "history's axes cover every finite value it plots"
        <| fun (NonEmptyArray(values: NormalFloat[])) ->
            let losses = values |> Array.map (fun v -> v.Get) |> List.ofArray
            let h = epochs losses
            let charts = Plot.historyCharts HistoryPlot.Default h
            try
                for c in charts do
                    c.RenderInMemory(480, 360)
                let lim = charts.[0].Axes.GetLimits()
                for l in h do
                    for v in [ l.TryGet "loss"; l.TryGet "val_loss" ] |> List.choose id do
                        if not (lim.Left <= float l.Epoch && float l.Epoch <= lim.Right && lim.Bottom <= v && v <= lim.Top) then
                            failtestf "epoch %d value %g lies outside the loss chart's limits %O" l.Epoch v lim
            finally
                for c in charts do
                    c.Dispose()

        testCase "confusion matrix names every class in its SVG, lists the most-confused pair, and writes a PNG"
        <| fun () ->
            let d = tempDir ()
            let counts = Array2D.init 10 10 (fun t p -> if t = p then 90L else 1L)
            counts.[0, 6] <- 40L
            Plot.confusionMatrix (Path.Combine(d, "c.svg")) fashion counts
            let texts = svgTexts (Path.Combine(d, "c.svg")) |> String.concat " | "
            for name in fashion do
                expectContains name texts
            expectContains "T-shirt/top → Shirt: 40" texts
            Plot.confusionMatrix (Path.Combine(d, "c.png")) fashion counts
            use b = decode (Path.Combine(d, "c.png"))
            expectEqual "size (600-pixel heatmap and 300 pixels of pairs)" (900, 600) (b.Width, b.Height)
            let c = Confusion.create fashion counts
            expectEqual "most confused" ("T-shirt/top", "Shirt", 40L) (let t, p, k, _ = List.head (c.MostConfused 1) in t, p, k)

        testCase "confusion counts predictions; class names that do not match the matrix are refused"
        <| fun () ->
            let c = Confusion.ofPredictions [ "a"; "b" ] [ { Actual = 0; Predicted = 1; Probability = 0.6 }; { Actual = 1; Predicted = 1; Probability = 0.9 } ]
            expectEqual "counts" [ 0L; 1L; 0L; 1L ] (Seq.cast<int64> c.Counts |> List.ofSeq)
            expectEqual "accuracy" 0.5 c.Accuracy
            let e = expectThrows<ArgumentException>(fun () -> Plot.confusionMatrix (Path.Combine(tempDir (), "c.png")) [ "a"; "b"; "c" ] (Array2D.zeroCreate 2 2))
            expectContains "3 class names for a 2×2 matrix" e.Message
            let e = expectThrows<ArgumentException>(fun () -> Confusion.ofPredictions [ "a" ] [ { Actual = 0; Predicted = 3; Probability = 1.0 } ] |> ignore)
            expectContains "predicted as 3" e.Message

        testCase "predictions frame wrong predictions in red, and no tensor is left behind"
        <| fun () ->
            let d = tempDir ()
            let before = Tensor.LiveCount
            do
                use _ = DisposeScope.Enter()
                let images = Torch.Rand [| 4L; 1L; 28L; 28L |] * 3.0 - 1.0 // outside [0, 1]: stretched per image
                let preds = [ for i in 0..3 -> { Actual = i; Predicted = (if i = 1 then 6 else i); Probability = 0.75 } ]
                Plot.predictionsWith { GridPlot.Default with Columns = 4 } (Path.Combine(d, "p.png")) fashion images preds
            expectEqual "live tensors" before Tensor.LiveCount
            use b = decode (Path.Combine(d, "p.png"))
            // Tiles of 28 pixels scaled 5× (at least 120 wide), 6 pixels apart; each frame is drawn in the padding around its tile.
            let cell = 140 + 6
            expectEqual "width" (4 * cell + 6) b.Width
            let frameAt i = b.GetPixel(6 + i * cell - 2, 6 + 70)
            expectEqual "framed in red (tiles 0..3; only 1 is wrong)" [ false; true; false; false ] [ for i in 0..3 -> red (frameAt i) ]

        testCase "samples take RGB and gray batches; images of mixed sizes are refused naming the first that differs"
        <| fun () ->
            let d = tempDir ()
            use _ = DisposeScope.Enter()
            Plot.samples (Path.Combine(d, "rgb.svg")) (Torch.Rand [| 3L; 3L; 16L; 16L |]) [ "ä"; "B"; "ς" ]
            svgTexts (Path.Combine(d, "rgb.svg")) |> ignore
            Plot.sampleList (Path.Combine(d, "gray.png")) [ Torch.Rand [| 28L; 28L |]; Torch.Rand [| 28L; 28L |] ] [ "one"; "two\nlines" ]
            use b = decode (Path.Combine(d, "gray.png"))
            expectEqual "width (two 140-pixel tiles)" (2 * 146 + 6) b.Width
            let e =
                expectThrows<ArgumentException>(fun () -> Plot.sampleList (Path.Combine(d, "m.png")) [ Torch.Rand [| 1L; 28L; 28L |]; Torch.Rand [| 1L; 8L; 8L |] ] [ "a"; "b" ])
            expectContains "image 1 is [1, 8, 8] but image 0 is [1, 28, 28]" e.Message

        testCase "lrFinder marks the suggestion on a log axis; lines write studies with log axes"
        <| fun () ->
            let d = tempDir ()
            let curve = [ for i in 0..40 -> 1e-5 * 10.0 ** (float i / 8.0), 2.0 - float i / 30.0 ]
            Plot.lrFinder (Path.Combine(d, "lr.svg")) { Curve = curve; Suggested = 3e-3 }
            expectContains "suggested 0.003" (svgTexts (Path.Combine(d, "lr.svg")) |> String.concat " | ")
            let chart = Plot.lrFinderChart { Curve = curve; Suggested = 3e-3 }
            chart.RenderInMemory(760, 460)
            let lim = chart.Axes.GetLimits()
            chart.Dispose()
            if not (lim.Left <= -5.0 && lim.Right >= log10 (fst (List.last curve))) then failtestf "the log x axis %O does not cover 1e-5 .. %g" lim (fst (List.last curve))
            let series = [ { Label = "xavier"; Points = [ for l in 1..10 -> float l, 0.5 ** float l ]; Style = LineAndMarkers; Color = None } ]
            Plot.lines { LinesPlot.Default with Title = "std by layer"; LogY = true; Width = 500; Height = 300 } (Path.Combine(d, "l.png")) series
            use b = decode (Path.Combine(d, "l.png"))
            expectEqual "size" (500, 300) (b.Width, b.Height)

        testCase "lines label every value of a short log series, keep integer axes integer, and put the legend beside the plot"
        <| fun () ->
            let d = tempDir ()
            let side name ys = { Label = name; Points = List.zip [ 256.0; 512.0; 1024.0; 2048.0; 4096.0 ] ys; Style = LineAndMarkers; Color = None }
            /// The bottom axis' tick labels (major ticks) and the data area's right edge, rendered at 760×460.
            let ticks (o: LinesPlot) (series: Series list) =
                let chart = Charts.lines o series
                chart.RenderInMemory(760, 460)
                let labels = [
                    for t in chart.Axes.Bottom.TickGenerator.Ticks do
                        if t.IsMajor then t.Label
                ]
                let right = chart.RenderManager.LastRender.DataRect.Right
                chart.Dispose()
                labels, right
            let widths = [ side "Dsl" [ 51.0; 53.0; 65.0; 78.0; 62.0 ]; side "PyTorch" [ 31.0; 40.0; 46.0; 46.0; 35.0 ] ]
            let labels, right = ticks { LinesPlot.Default with LogX = true } widths
            expectEqual "a tick at every width, labelled with it" [ "256"; "512"; "1024"; "2048"; "4096" ] labels
            // The legend is beside the data area, so no point can be under it.
            if not (right < 760.0f - 60.0f) then failtestf "the data area reaches x = %g of 760: no room kept for the legend" right
            let labels, _ = ticks LinesPlot.Default [ { Label = "B2"; Points = [ 1.0, 2.0; 2.0, 1.3 ]; Style = LineAndMarkers; Color = None } ]
            if labels |> List.exists (fun t -> t.Contains ".") || not (List.contains "1" labels && List.contains "2" labels) then
                failtestf "an axis of whole threads has ticks %A (want integers only, 1 and 2 among them)" labels
            // Many points on a log axis keep powers of ten.
            let many = [ { Label = ""; Points = [ for i in 0..40 -> 1e-5 * 10.0 ** (float i / 8.0), 1.0 ]; Style = Line; Color = None } ]
            let labels, _ = ticks { LinesPlot.Default with LogX = true } many
            expectEqual "powers of ten on a long log axis" [ "1e-5"; "0.0001"; "0.001"; "0.01"; "0.1"; "1" ] labels
            Plot.lines { LinesPlot.Default with LogX = true } (Path.Combine(d, "widths.png")) widths
            use b = decode (Path.Combine(d, "widths.png"))
            expectEqual "size" (760, 460) (b.Width, b.Height)

        testCase "bad input gets a clear error, never a broken picture"
        <| fun () ->
            let d = tempDir ()
            let e = expectThrows<ArgumentException>(fun () -> Plot.history (Path.Combine(d, "h.png")) [])
            expectContains "Plot.history: the history is empty" e.Message
            let missing = Path.Combine(d, "no-such-folder", "h.png")
            let e = expectThrows<ArgumentException>(fun () -> Plot.history missing (epochs [ 1.0 ]))
            expectContains "does not exist; create it first" e.Message
            let e = expectThrows<ArgumentException>(fun () -> Plot.history (Path.Combine(d, "h.jpg")) (epochs [ 1.0 ]))
            expectContains "pictures are written as .png or .svg" e.Message
            let e =
                expectThrows<ArgumentException>(fun () ->
                    Plot.lines LinesPlot.Default (Path.Combine(d, "l.png")) [ { Label = ""; Points = [ nan, 1.0 ]; Style = Line; Color = None } ])
            expectContains "no series has a finite point" e.Message
            expectEqual "nothing was written" [||] (Directory.GetFiles d)
    ]
