/// Report: the page a run writes after every epoch, checked in a real browser (headless Chromium, which
/// `dotnet fsi build.fsx setup` installs), and the comparison of runs.
module Dsl.Tests.Reports

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open SkiaSharp
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

/// A script added to the test's copy of a page: after loading, it writes each picture's natural and
/// displayed size into the DOM (read back through --dump-dom) and logs failed loads to the console.
let private probe =
    "<script>window.addEventListener('error',e=>console.error('load failed: '+(e.target.src||e.message)),true);"
    + "window.addEventListener('load',()=>{for(const i of document.querySelectorAll('img,svg')){const r=i.getBoundingClientRect();"
    + "i.setAttribute('data-rendered',(i.naturalWidth??Math.round(r.width))+'x'+(i.naturalHeight??Math.round(r.height))+' '+Math.round(r.width)+'x'+Math.round(r.height))}"
    + "document.body.setAttribute('data-probed','yes')});</script>"

/// Runs headless Chromium with a time limit; returns its stdout and stderr.
let private chromium (args: string list) =
    let exe = [ "/usr/bin/chromium"; "/usr/bin/chromium-browser" ] |> List.tryFind File.Exists
    let exe =
        match exe with
        | Some e -> e
        | None -> failtest "Chromium is not installed; `dotnet fsi build.fsx setup` installs Debian's chromium package"
    let psi = ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in
        [ "--headless"; "--disable-gpu"; "--no-sandbox"; "--no-first-run"; "--user-data-dir=" + Path.Combine(Path.GetTempPath(), "dsl-chromium-" + Guid.NewGuid().ToString("N")) ]
        @ args do
        psi.ArgumentList.Add a
    use p =
        match Process.Start psi with
        | null -> failtest "chromium did not start"
        | p -> p
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit 90_000) then
        p.Kill true
        failtest "chromium did not finish in 90 s"
    out.Result, err.Result

/// What the browser saw of a page: console messages, each picture's "natural displayed" sizes, the rows of
/// the history table, and the screenshot.
type Seen = { Console: string list; Pictures: string list; HistoryEpochs: string list; Screenshot: string }

/// Opens a copy of `page` (with the probe) in headless Chromium: once dumping the DOM, once for a screenshot.
let browse (page: string) : Seen =
    let copy = Path.Combine(Path.GetDirectoryName page |> string, "probed-" + Path.GetFileName page)
    File.WriteAllText(copy, File.ReadAllText(page).Replace("</body>", probe + "</body>"))
    let url = Uri(copy).AbsoluteUri
    let dom, err = chromium [ "--enable-logging=stderr"; "--v=0"; "--virtual-time-budget=5000"; "--window-size=1280,2000"; "--dump-dom"; url ]
    if not (dom.Contains "data-probed=\"yes\"") then failtestf "the probe did not run in %s; chromium said:\n%s" copy err
    let shot = Path.Combine(Path.GetDirectoryName page |> string, "screenshot.png")
    chromium [ "--virtual-time-budget=5000"; "--window-size=1280,2400"; "--screenshot=" + shot; url ] |> ignore
    let history = Regex.Match(dom, "<table id=\"history\">.*?<tbody>(.*?)</tbody>", RegexOptions.Singleline).Groups.[1].Value
    {
        Console = [
            for l in err.Split '\n' do
                if l.Contains ":CONSOLE" then yield l.Trim()
        ]
        Pictures = [ for m in Regex.Matches(dom, "data-rendered=\"([^\"]*)\"") -> m.Groups.[1].Value ]
        HistoryEpochs = [ for m in Regex.Matches(history, "<tr><td>(\\d+)</td>") -> m.Groups.[1].Value ]
        Screenshot = shot
    }

/// Fails unless the page rendered cleanly: no console messages, every picture with a non-zero size, a
/// screenshot that is not blank.
let expectClean (seen: Seen) =
    if not seen.Console.IsEmpty then failtestf "the browser logged:\n%s" (String.concat "\n" seen.Console)
    if seen.Pictures.IsEmpty then failtest "the page has no pictures"
    for p in seen.Pictures do
        let sizes = p.Split(' ', 'x') |> Array.map int
        if sizes |> Array.exists (fun v -> v <= 0) then failtestf "a picture rendered as %s (natural, displayed)" p
    use shot =
        match SKBitmap.Decode seen.Screenshot with
        | null -> failtestf "no screenshot at %s" seen.Screenshot
        | b -> b
    let lum = [|
        for y in 0..8 .. shot.Height - 1 do
            for x in 0..8 .. shot.Width - 1 -> let c = shot.GetPixel(x, y) in float c.Red + float c.Green + float c.Blue
    |]
    let mean = Array.average lum
    let var = lum |> Array.averageBy (fun v -> (v - mean) ** 2.0)
    if var < 100.0 then failtestf "the screenshot is blank (luminance variance %.1f)" var

let private fitWithReport (dir: string) (epochs: int) (callbacks: Callback list) =
    // Three blobs in the plane, each point drawn as a 4×4 gray image (the pair repeated), so the prediction grid has images.
    let x2, y = TrainingData.blobs 3 30 2.0 0.5 3L
    let x = x2.Reshape([| x2.Size 0; 1L; 1L; 2L |]).Repeat([| 1L; 1L; 4L; 2L |])
    let report = { ReportOptions.In dir with ClassNames = [ "α"; "b"; "Ç" ]; Examples = Some(x, y); PredictionCount = 12; Print = false }
    let o = { TrainingData.quiet with Epochs = epochs; BatchSize = 16; ValidationSplit = Some 0.2; Callbacks = callbacks @ [ Report.callback report ] }
    Training.fit o (Model.buildSeeded 1L [ 1L; 4L; 4L ] (flatten >-> dense 8 >-> relu >-> dense 3)) x (Value.T y)

/// This module's tests, the Expecto list "Reports" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Reports" [
        testCase "a run's report opens in headless Chromium: no console errors, every picture drawn, the epochs in its table"
        <| fun () ->
            let dir = Pictures.tempDir ()
            let trained = fitWithReport dir 3 []
            let html = File.ReadAllText(Path.Combine(dir, "report.html"))
            for w in [ "Curves"; "Confusion matrix"; "Predictions"; "History"; "Options"; "Machine"; "Model"; "batch size"; "16 ("; "libtorch threads"; "Adam (lr 0.001" ] do
                expectContains w html
            expectNotContains "<script" html
            expectNotContains "http" html
            let seen = browse (Path.Combine(dir, "report.html"))
            expectClean seen
            expectEqual "pictures (curves, confusion matrix, predictions)" 3 seen.Pictures.Length
            expectEqual "the history table's epochs" [ for l in trained.History -> string l.Epoch ] seen.HistoryEpochs

        testCase "the browser check fails on a broken picture and on console errors"
        <| fun () ->
            let dir = Pictures.tempDir ()
            let page = Path.Combine(dir, "bad.html")
            File.WriteAllText(page, "<!DOCTYPE html><html><body><h1>x</h1><img src=\"missing.png\"><script>console.error('boom')</script></body></html>")
            let seen = browse page
            let e = expectCatch (fun () -> expectClean seen)
            expectContains "boom" e.Message
            expectContains "load failed" e.Message

        testCase "the report is rewritten after every epoch and marks the epoch early stopping restored"
        <| fun () ->
            let dir = Pictures.tempDir ()
            let seenEpochs = Collections.Generic.List<int>()
            let watcher =
                Callback.onEpochEnd "watch" (fun ctx ->
                    // Runs before the report callback of this epoch: the page holds the epochs before it.
                    if ctx.Epoch > 1 then
                        let rows = Regex.Matches(File.ReadAllText(Path.Combine(dir, "report.html")), "<tr><td>\\d+</td>").Count
                        seenEpochs.Add rows)
            // Watching val_loss for a maximum: the first epoch is the best, so training stops at the second and restores the first.
            let stop = Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_loss"; Mode = Max; Patience = 1; RestoreBestWeights = true }
            let trained = fitWithReport dir 5 [ watcher; stop ]
            expectEqual "epochs trained" 2 trained.History.Length
            expectEqual "rows in the page before each later epoch's report" [ 1 ] (List.ofSeq seenEpochs)
            expectContains "weights of epoch 1 restored" (File.ReadAllText(Path.Combine(dir, "report.html")))

        testCase "compare lays runs side by side sorted by a metric; an unknown metric is refused naming the logged ones"
        <| fun () ->
            let root = Pictures.tempDir ()
            let a, b = Path.Combine(root, "a"), Path.Combine(root, "b")
            fitWithReport a 1 [] |> ignore
            fitWithReport b 3 [] |> ignore
            let page = Path.Combine(root, "compare.html")
            Report.compare page "val_loss" [ a; b ]
            let html = File.ReadAllText page
            let rows = [ for m in Regex.Matches(html, "<tr><td>([ab])</td>") -> m.Groups.[1].Value ]
            let final (d: string) = (Report.readRecord (Path.Combine(d, "report.json"))).History |> List.last |> fun l -> (l.TryGet "val_loss").Value
            expectEqual "rows by val_loss, lowest first" (if final a <= final b then [ "a"; "b" ] else [ "b"; "a" ]) rows
            use img = Pictures.decode (Path.Combine(root, "compare-loss.png"))
            expectEqual "chart size" (640, 420) (img.Width, img.Height)
            expectClean (browse page)
            let e = expectThrows<ArgumentException>(fun () -> Report.compare page "f1" [ a; b ])
            expectContains "did not log 'f1'" e.Message
    ]
