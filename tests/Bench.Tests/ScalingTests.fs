/// The scaling series' pure logic (bench/Bench/Scaling.fs): request names and their parsing, which ids a
/// run selects, the counts per point, results.json's `scaling` section, the result lines, the curves of a
/// chart, and that a chart file is written.
module Bench.Tests.ScalingTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open Bench
open Bench.Scaling

/// A series id and a positive x.
let private seriesPoint = Gen.zip (Gen.elements ids) (Gen.choose (1, Int32.MaxValue)) |> Arb.fromGen

/// Request-like strings: a series-like prefix, a separator and a number-like suffix, shrinking towards short ones.
let private nameLike =
    gen {
        let! prefix = Gen.elements [ "S1"; "S2"; "S3"; "S4"; "S5"; "B1"; "s1"; ""; "S" ]
        let! sep = Gen.elements [ ":"; "::"; ""; " "; ":-" ]
        let! digits = Gen.elements [ "0"; "7"; "064"; "256"; "x"; ""; "99999999999"; "1.5" ]
        return prefix + sep + digits
    }
    |> Arb.fromGen

let private point (x: int) (label: string) (figures: (string * float) list) : Point = { X = x; Label = label; Figures = Map figures; Details = Map []; OtherCpuShare = 0.01 }

let private number (n: JsonNode | null) =
    match n with
    | null -> nan
    | n -> n.GetValue<float>()

let private at (path: string list) (o: JsonNode) =
    let start: JsonNode | null = o
    path
    |> List.fold
        (fun (n: JsonNode | null) (k: string) ->
            match n with
            | null -> null
            | n -> n.AsObject()[k])
        start

[<Tests>]
let tests =
    testList "scaling series" [
        testProperty "a point's request name parses back to its series and x" <| fun () -> Prop.forAll seriesPoint (fun (s, x) -> parse (request s x) = Some(s, x))

        testProperty "whatever a name parses to, its own request name parses to the same"
        <| fun () ->
            Prop.forAll nameLike (fun name ->
                match parse name with
                | Some(s, x) -> List.contains s ids && x > 0 && parse (request s x) = Some(s, x)
                | None -> true)

        test "names that are not a series point are not parsed" {
            for name in [ "B1"; "S1"; "S1:"; "S1:x"; "S9:4"; "S1:-3"; "S1:0"; "S1:4:5"; "s1:4"; "S1: 4"; "S1:1.5"; "S1:99999999999" ] do
                Expect.isNone (parse name) (sprintf "%s is not a point" name)
            Expect.equal (parse "S2:4096") (Some("S2", 4096)) "S2:4096"
        }

        test "the default run leaves the series out, --scaling runs them alone, --only wins" {
            let all = [ "B1"; "B2"; "B3"; "B4"; "B8R"; "B8M"; "B9"; "B5"; "B6" ] @ ids
            let picked only scaling = all |> List.filter (isWanted only scaling)
            Expect.equal (picked None false) [ "B1"; "B2"; "B3"; "B4"; "B8R"; "B8M"; "B9"; "B5"; "B6" ] "default"
            Expect.equal (picked None true) ids "--scaling"
            Expect.equal (picked (Some(set [ "S2" ])) true) [ "S2" ] "--scaling --only S2"
            Expect.equal (picked (Some(set [ "S4"; "B8" ])) false) [ "B8R"; "B8M"; "S4" ] "--only S4,B8"
        }

        test "the thread counts are 1, 2 and every core, sorted and distinct" {
            Expect.equal (threadCounts 1) [ 1; 2 ] "1 core"
            Expect.equal (threadCounts 2) [ 1; 2 ] "2 cores"
            Expect.equal (threadCounts 16) [ 1; 2; 16 ] "16 cores"
        }

        test "iterations shrink as the work per iteration grows, never below one" {
            let s1 = batches |> List.map (s1Counts false >> fun c -> c.Iters)
            let s2 = widths |> List.map (s2Counts false >> fun c -> c.Iters)
            Expect.equal s1 [ 32; 16; 8; 4; 2 ] "S1 iterations"
            Expect.equal s2 [ 100; 25; 6; 1; 1 ] "S2 iterations"
            for w in widths do
                // The FLOPs of a request stay within 0.5–3 × those at width 256 (the two widest get one iteration each).
                let c = s2Counts false w
                let r = s2Flops w * float c.Iters / (s2Flops 256 * 100.0)
                Expect.isTrue (r >= 0.5 && r <= 3.0) (sprintf "width %d: %.2f × the FLOPs of width 256's request" w r)
        }

        test "an MLP of width 256 is B2's count; S1 at batch 128 is B3's" {
            Expect.equal (Flops.mlpWidthMacs 256L) (10L * 256L + 256L * 256L + 256L) "B2's MACs"
            Expect.equal (Flops.perIteration "B2") (Some(s2Flops 256)) "B2's FLOPs"
            Expect.equal (Flops.perIteration "B3") (Some(s1Flops 128)) "B3's FLOPs"
        }

        test "S1's section: x, unit, each point's minima and µs per sample, a missing side as null" {
            let points = [ point 32 "" [ "dsl", 8.0; "torch_py", 16.0 ]; point 16 "" [ "dsl", 4.0; "torch_py", 6.0; "cpp", nan ] ]
            let j = seriesJson "S1" 100.0 points
            Expect.equal (j["x"] |> string) "batch" "x"
            Expect.equal (j["unit"] |> string) "ms" "unit"
            let ps = (at [ "points" ] j |> nonNull).AsArray()
            Expect.equal ps.Count 2 "two points"
            let p0 = nonNull ps[0]
            Expect.equal (number (at [ "batch" ] p0)) 32.0 "batch"
            Expect.equal (number (at [ "min"; "dsl" ] p0)) 8.0 "dsl's minimum"
            Expect.equal (number (at [ "per_sample_us"; "dsl" ] p0)) 250.0 "8 ms / 32 samples"
            Expect.equal (number (at [ "per_sample_us"; "torch_py" ] p0)) 500.0 "16 ms / 32 samples"
            Expect.isNull (at [ "min"; "cpp" ] p0) "no cpp figure: null"
            Expect.isNull (at [ "per_sample_us"; "cpp" ] (nonNull ps[1])) "NaN: null"
            Expect.equal (number (at [ "other_processes_cpu_share" ] p0)) 0.01 "other processes"
        }

        test "S2's section: FLOPs, GFLOP/s and share of the peak from the step time" {
            let j = seriesJson "S2" 200.0 [ point 1024 "" [ "dsl", 10.0; "torch_py", 20.0; "cpp", 40.0 ] ]
            let p = (at [ "points" ] j |> nonNull).AsArray()[0] |> nonNull
            let flops = 6.0 * 256.0 * float (10 * 1024 + 1024 * 1024 + 1024)
            Expect.floatClose Accuracy.veryHigh (number (at [ "flops_per_iter" ] p)) flops "FLOPs"
            Expect.floatClose Accuracy.veryHigh (number (at [ "gflops"; "dsl" ] p)) (flops / 0.01 / 1e9) "GFLOP/s"
            Expect.floatClose Accuracy.veryHigh (number (at [ "peak_share"; "cpp" ] p)) (flops / 0.04 / 1e9 / 200.0) "share"
        }

        test "S3's section: each benchmark's speed-up over one thread" {
            let points = [ point 1 "B2" [ "dsl", 3.0; "torch_py", 4.0 ]; point 2 "B2" [ "dsl", 2.0; "torch_py", 4.0 ]; point 1 "B3" [ "dsl", 90.0 ]; point 2 "B3" [ "dsl", 60.0 ] ]
            let ps = (at [ "points" ] (seriesJson "S3" nan points) |> nonNull).AsArray() |> Seq.map nonNull |> List.ofSeq
            Expect.equal (ps |> List.map (fun p -> string (at [ "bench" ] p), number (at [ "threads" ] p))) [ "B2", 1.0; "B2", 2.0; "B3", 1.0; "B3", 2.0 ] "points"
            Expect.equal (ps |> List.map (fun p -> number (at [ "speedup_over_1_thread"; "dsl" ] p))) [ 1.0; 1.5; 1.0; 1.5 ] "dsl"
            Expect.equal (number (at [ "speedup_over_1_thread"; "torch_py" ] ps[1])) 1.0 "torch_py"
        }

        test "S4's section: the figure's name and the data's own size" {
            let p = (at [ "points" ] (seriesJson "S4" nan [ point 60000 "growth" [ "dsl", 190.0 ] ]) |> nonNull).AsArray()[0] |> nonNull
            Expect.equal (string (at [ "figure" ] p)) "growth" "figure"
            Expect.floatClose Accuracy.veryHigh (number (at [ "data_mb" ] p)) (60000.0 * 3144.0 / 1048576.0) "60,000 × (784 × 4 + 8) bytes"
        }

        test "result lines" {
            let s1 = line "S1" nan (point 64 "" [ "dsl", 20.0; "torch_py", 40.0; "cpp", 25.0 ])
            Expect.equal s1 "scaling S1 batch=64 dsl=20.00 torch_py=40.00 cpp=25.00 ratio_py=0.5 ratio_cpp=0.8 unit=ms us_per_sample dsl=312.5 torch_py=625.0 cpp=390.6" "S1"
            let s3 = line "S3" nan (point 2 "B3" [ "dsl", 60.0 ])
            Expect.equal s3 "scaling S3 B3 threads=2 dsl=60.00 torch_py=n/a cpp=n/a ratio_py=n/a ratio_cpp=n/a unit=ms" "S3"
        }

        test "a curve is one side's points of one label, sorted by x, without non-finite values" {
            let points = [ point 64 "" [ "dsl", 3.0 ]; point 16 "" [ "dsl", 1.0 ]; point 32 "" [ "dsl", nan ]; point 16 "other" [ "dsl", 9.0 ] ]
            Expect.equal (curve "dsl" "" (fun _ v -> v) points) [ 16.0, 1.0; 64.0, 3.0 ] "dsl"
            Expect.equal (curve "dsl" "" (fun x v -> v / float x) points) [ 16.0, 1.0 / 16.0; 64.0, 3.0 / 64.0 ] "per sample"
            Expect.isEmpty (curve "cpp" "" (fun _ v -> v) points) "no cpp"
        }

        test "every series' chart is written as a PNG into the folder" {
            let dir = Path.Combine(Path.GetTempPath(), sprintf "bench-charts-%d" Environment.ProcessId)
            try
                let two label = [ point 1 label [ "dsl", 2.0; "torch_py", 3.0 ]; point 2 label [ "dsl", 1.5; "cpp", 2.5 ] ]
                let cases = [ "S1", two ""; "S2", [ point 256 "" [ "dsl", 1.0 ]; point 512 "" [ "dsl", 3.0 ] ]; "S3", two "B2" @ two "B3"; "S4", two "peak" @ two "growth" ]
                for series, points in cases do
                    let path = ScalingCharts.write dir series 150.0 "test" points
                    Expect.equal (Path.GetFileName path) (ScalingCharts.fileName series) series
                    let bytes = File.ReadAllBytes path
                    Expect.isGreaterThan bytes.Length 1000 (sprintf "%s has a picture" series)
                    Expect.sequenceEqual bytes.[0..3] [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy |] (sprintf "%s is a PNG" series)
                Expect.isEmpty (Directory.GetFiles(dir, "*.tmp*")) "no temporary file is left"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
    ]
