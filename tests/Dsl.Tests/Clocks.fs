/// Telling the time: the common-sense error (FsCheck properties with shrinking: symmetric, at most 360, zero exactly
/// when the times agree modulo 720 minutes; the batch form equals the scalar one; the metric over two class heads)
/// and the circular loss (against PyTorch's cosine_embedding_loss in tests/fixtures/clock.json, made by
/// make_clock_fixtures.py; its gradient against float64 finite differences; its position reader).
module Dsl.Tests.Clocks

open System.IO
open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators

/// Two times h:m on a dial; hours range over negative and large values too (read modulo 12).
type TimePair = { H1: int; M1: int; H2: int; M2: int }

let private timeArb: Arbitrary<TimePair> =
    let g =
        gen {
            let! h1 = Gen.choose (-30, 30)
            let! m1 = Gen.choose (0, 59)
            let! h2 = Gen.choose (-30, 30)
            let! m2 = Gen.choose (0, 59)
            return { H1 = h1; M1 = m1; H2 = h2; M2 = m2 }
        }
    let toward0 (x: int) =
        if x > 0 then shrinkInt 0 x
        elif x < 0 then [ 0; x / 2; x + 1 ] |> List.distinct |> List.filter ((<>) x)
        else []
    let shrink (c: TimePair) =
        seq {
            for h in toward0 c.H1 -> { c with H1 = h }
            for m in toward0 c.M1 -> { c with M1 = m }
            for h in toward0 c.H2 -> { c with H2 = h }
            for m in toward0 c.M2 -> { c with M2 = m }
        }
    Arb.fromGenShrink (g, shrink)

let private csm (c: TimePair) = Metric.commonSenseMinutes c.H1 c.M1 c.H2 c.M2
let private minutesOfDay (h: int) (m: int) = (((h * 60 + m) % 720) + 720) % 720

/// Predictions [N, 2] and positions [N] on a period, as plain data.
type CircularCase = { Period: float; Vectors: float[]; Targets: float[] }

let private circularArb: Arbitrary<CircularCase> =
    let g =
        gen {
            let! period = Gen.elements [ 12.0; 60.0; 360.0; 720.0 ]
            let! n = Gen.choose (1, 5)
            // Away from the origin, where the direction (and the gradient) is not defined.
            let! xs = Gen.arrayOfLength (2 * n) (Gen.choose (-300, 300) |> Gen.map (fun v -> float v / 100.0))
            let xs = Array.mapi (fun i v -> if abs v < 0.2 then (if i % 2 = 0 then 0.5 else -0.7) else v) xs
            let! ts = Gen.arrayOfLength n (Gen.choose (0, 999))
            return { Period = period; Vectors = xs; Targets = ts |> Array.map (fun t -> float t * period / 1000.0) }
        }
    let shrink (c: CircularCase) =
        seq {
            let n = c.Targets.Length
            if n > 1 then for i in 0 .. n - 1 -> { c with Targets = Array.removeAt i c.Targets; Vectors = Array.append c.Vectors.[.. 2 * i - 1] c.Vectors.[2 * i + 2 ..] }
        }
    Arb.fromGenShrink (g, shrink)

let private lossOf (period: float) (p: Tensor) (t: Tensor) = (Loss.circular period).Compute (Value.T p) (Value.T t)

let private fixtureCases =
    lazy
        (let doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(System.AppContext.BaseDirectory, "fixtures", "clock.json")))
         [ for c in doc.RootElement.GetProperty("cases").EnumerateArray() -> c.Clone() ])

let private tensorOf (e: JsonElement) =
    let shape = [| for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt64() |]
    Torch.From<float32>([| for v in e.GetProperty("data").EnumerateArray() -> float32 (v.GetDouble()) |], shape)

/// This module's tests, the Expecto list "Clocks" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Clocks" [
        testCase "the common-sense error of the seed's examples and the dial's edges"
        <| fun () ->
            expectEqual "3:59 vs 4:01" 2 (Metric.commonSenseMinutes 3 59 4 1)
            expectEqual "4:01 vs 4:03" 2 (Metric.commonSenseMinutes 4 1 4 3)
            expectEqual "11:59 vs 0:01" 2 (Metric.commonSenseMinutes 11 59 0 1)
            expectEqual "12:00 vs 0:00" 0 (Metric.commonSenseMinutes 12 0 0 0)
            expectEqual "6:00 vs 0:00 (the farthest)" 360 (Metric.commonSenseMinutes 6 0 0 0)
            expectEqual "the seed's Table 6 first row, 1:59 vs 0:59" 60 (Metric.commonSenseMinutes 1 59 0 59)

        testPropertyWithConfig (maxTest 500) "the common-sense error is symmetric" <| Prop.forAll timeArb (fun c -> csm c = Metric.commonSenseMinutes c.H2 c.M2 c.H1 c.M1)

        testPropertyWithConfig (maxTest 500) "the common-sense error lies in [0, 360]" <| Prop.forAll timeArb (fun c -> let e = csm c in 0 <= e && e <= 360)

        testPropertyWithConfig (maxTest 500) "the common-sense error is zero exactly when the times agree modulo 720 minutes"
        <| Prop.forAll timeArb (fun c -> (csm c = 0) = (minutesOfDay c.H1 c.M1 = minutesOfDay c.H2 c.M2))

        testPropertyWithConfig (maxTest 500) "the common-sense error is the shorter of the two ways round the dial"
        <| Prop.forAll timeArb (fun c ->
            let forward = (minutesOfDay c.H1 c.M1 - minutesOfDay c.H2 c.M2 + 720) % 720
            csm c = min forward (720 - forward) && csm c + (720 - csm c) = 720)

        testPropertyWithConfig (maxTest 100) "the batch common-sense error equals the scalar one, element by element"
        <| Prop.forAll (Gen.listOfLength 6 timeArb.Generator |> Arb.fromGen) (fun cs ->
            scoped (fun () ->
                let col f = Torch.From([| for c in cs -> int64 (f c) |], [| int64 cs.Length |])
                let e = Metric.commonSenseMinutesOf (col _.H1) (col _.M1) (col _.H2) (col _.M2)
                e.ToArray<int64>() = [| for c in cs -> int64 (csm c) |]))

        testCase "commonSenseError reads the arg-max of the hour and minute heads"
        <| fun () ->
            scoped (fun () ->
                let baseline = Tensor.LiveCount
                do
                    use _ = DisposeScope.Enter()
                    // Predicted 3:59, 0:00 and 6:30 against true 4:01, 11:58 and 6:30: errors 2, 2 and 0.
                    let oneHot (n: int64) (ks: int64 list) = Torch.OneHot(Torch.From(Array.ofList ks, [| 3L |]), n).To(DType.Float32)
                    let pred = Value.Heads [ "hour", Value.T(oneHot 12L [ 3L; 0L; 6L ]); "minute", Value.T(oneHot 60L [ 59L; 0L; 30L ]) ]
                    let target = Value.Heads [ "hour", Value.T(Torch.From([| 4L; 11L; 6L |], [| 3L |])); "minute", Value.T(Torch.From([| 1L; 58L; 30L |], [| 3L |])) ]
                    let s, n = Metric.commonSenseError.Batch pred target
                    expectEqual "mean error" (4.0 / 3.0) (Metric.commonSenseError.Finish s n)
                    Metric.commonSenseError.Check (Value.shape pred) (Value.shape target)
                    let bad = expectThrows<System.ArgumentException>(fun () -> Metric.commonSenseError.Check (dims [ 720L ]) (dims []))
                    expectContains "commonSenseErrorWith" bad.Message
                expectEqual "live tensors" baseline Tensor.LiveCount)

        testCase "Loss.circular equals PyTorch's cosine_embedding_loss and its gradient (clock.json)"
        <| fun () ->
            for c in fixtureCases.Force() do
                scoped (fun () ->
                    let name = c.GetProperty("name").GetString()
                    let p = tensorOf (c.GetProperty "predictions")
                    let t = tensorOf (c.GetProperty "targets")
                    let period = c.GetProperty("period").GetDouble()
                    let v, g = gradv (fun p -> lossOf period p t) p
                    let expected = c.GetProperty("loss").GetDouble()
                    if abs (v.ToDouble() - expected) > 1e-5 * max 1.0 (abs expected) then failtestf "%s: loss %g, PyTorch %g" name (v.ToDouble()) expected
                    let d = maxAbsDiff (values g) (values (tensorOf (c.GetProperty "grad")))
                    if d > 1e-5 then failtestf "%s: gradient differs from PyTorch's by %g" name d)

        testPropertyWithConfig (maxTest 100) "Loss.circular's gradient equals float64 finite differences"
        <| Prop.forAll circularArb (fun c ->
            scoped (fun () ->
                let n = int64 c.Targets.Length
                let t = f64 [ n ] c.Targets
                let f (p: Tensor) = lossOf c.Period p t
                let g = values (grad f (f64 [ n; 2L ] c.Vectors))
                let at (xs: float[]) = Scope.run (fun () -> (f (f64 [ n; 2L ] xs)).ToDouble())
                let h = 1e-6
                let fd =
                    Array.init c.Vectors.Length (fun i ->
                        (at (Array.mapi (fun j v -> if j = i then v + h else v) c.Vectors) - at (Array.mapi (fun j v -> if j = i then v - h else v) c.Vectors)) / (2.0 * h))
                ensure (close 1e-7 1e-5 g fd) (sprintf "grad %A, finite differences %A" g fd)
                true))

        testPropertyWithConfig (maxTest 100) "Loss.circular is 0 pointing at the target, 2 opposite it, and circularPosition reads the target back"
        <| Prop.forAll circularArb (fun c ->
            scoped (fun () ->
                let n = int64 c.Targets.Length
                let t = f64 [ n ] c.Targets
                let theta = t * (2.0 * System.Math.PI / c.Period)
                let radius = (f64 [ n; 2L ] c.Vectors).Square().Sum([| 1L |], true).Sqrt()
                let at = Torch.Stack([| theta.Sin(); theta.Cos() |], 1L) * radius
                let right, opposite = (lossOf c.Period at t).ToDouble(), (lossOf c.Period (-at) t).ToDouble()
                let back = values (Loss.circularPosition c.Period at)
                let wrapped = Array.map2 (fun b t -> let d = abs (b - t) % c.Period in min d (c.Period - d)) back c.Targets
                ensure (abs right < 1e-9 && abs (opposite - 2.0) < 1e-9) (sprintf "pointing at the target %g, opposite %g" right opposite)
                ensure (Array.forall (fun d -> d < 1e-9 * c.Period) wrapped) (sprintf "positions %A for targets %A" back c.Targets)
                true))

        testCase "Loss.circular refuses a wrong output or period with the fix"
        <| fun () ->
            let e = expectThrows<System.ArgumentException>(fun () -> (Loss.circular 60.0).Check (dims [ 60L ]) (Value.T(Torch.Zeros([| 4L |], DType.Int64))))
            expectContains "(None, 2)" e.Message
            let e = expectThrows<System.ArgumentException>(fun () -> Loss.circular 0.0 |> ignore)
            expectContains "720.0" e.Message
    ]
