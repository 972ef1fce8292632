/// B7's all-reduce statistic (bench/Bench/DistBench.fs, `quantile`): a job's figure is the 10th percentile of its
/// per-call times, so the quantile must be an order statistic of the calls, the extremes at 0 and 1, the median of
/// an odd count its middle value, monotone in q, and blind to the order the calls came in.
module Bench.Tests.DistBenchTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Bench.DistBench

/// Non-empty lists of call times (ms in steps of 1 µs, ties likely), shrinking towards short lists and small values
/// (FsCheck's shrinker for arrays of non-negative ints, mapped).
let private calls =
    ArbMap.defaults
    |> ArbMap.arbitrary<NonEmptyArray<NonNegativeInt>>
    |> Arb.convert (fun (NonEmptyArray a) -> a |> Array.map (fun (NonNegativeInt i) -> float (i % 5001) / 1000.0) |> List.ofArray) (fun xs ->
        NonEmptyArray(xs |> List.map (fun x -> NonNegativeInt(int (round (x * 1000.0)))) |> Array.ofList))

let private q = Gen.choose (0, 1000) |> Gen.map (fun i -> float i / 1000.0) |> Arb.fromGen

[<Tests>]
let tests =
    testList "B7's all-reduce statistic" [
        testProperty "the 0 and 1 quantiles are the fastest and slowest call"
        <| fun () -> Prop.forAll calls (fun xs -> quantile 0.0 xs = List.min xs && quantile 1.0 xs = List.max xs)
        testProperty "a quantile lies between the two calls around its rank, so within the calls' range"
        <| fun () ->
            Prop.forAll calls (fun xs ->
                Prop.forAll q (fun p ->
                    let sorted = List.sort xs |> Array.ofList
                    let pos = p * float (sorted.Length - 1)
                    let v = quantile p xs
                    sorted.[int (floor pos)] <= v && v <= sorted.[int (ceil pos)]))
        testProperty "between order statistics it interpolates linearly: over 0 … n−1 the q-quantile is q·(n−1)"
        <| fun () ->
            Prop.forAll (Gen.choose (1, 400) |> Arb.fromGen) (fun n ->
                Prop.forAll q (fun p ->
                    let xs = [ for i in n - 1 .. -1 .. 0 -> float i ]
                    abs (quantile p xs - p * float (n - 1)) < 1e-9))
        testProperty "it rises with q and does not depend on the calls' order"
        <| fun () ->
            Prop.forAll calls (fun xs ->
                Prop.forAll q (fun p ->
                    let lower = quantile (p / 2.0) xs
                    lower <= quantile p xs && quantile p (List.rev xs) = quantile p xs))
        testCase "the median of an odd count is its middle call, of an even count the midpoint; none of nothing"
        <| fun () ->
            Expect.equal (quantile 0.5 [ 3.0; 1.0; 2.0 ]) 2.0 "odd"
            Expect.equal (quantile 0.5 [ 4.0; 1.0; 2.0; 3.0 ]) 2.5 "even"
            Expect.equal (quantile 0.1 [ for i in 0..10 -> float i ]) 1.0 "the 10th percentile of 0..10"
            Expect.isTrue (System.Double.IsNaN(quantile 0.1 [])) "empty"
    ]
