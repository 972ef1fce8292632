/// Tensor arithmetic from F#: operators with scalars on either side, unary minus, and F#'s own
/// generic math functions (exp, sqrt, tanh, **) resolving to tensor members.
module Dsl.Tests.Ergonomics

open Expecto
open FsCheck
open FsCheck.FSharp
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators

/// Two vectors of the same length; values in [−2, 2] away from 0 (so 1/x is tame).
let private pairArb: Arbitrary<float[] * float[]> =
    let nonZero = Gen.oneof [ genValue -200 -10; genValue 10 200 ]
    let g =
        gen {
            let! n = Gen.choose (1, 8)
            let! a = Gen.arrayOfLength n nonZero
            let! b = Gen.arrayOfLength n nonZero
            return a, b
        }
    Arb.fromGenShrink (g, fun (a, b) -> seq { if a.Length > 1 then yield Array.tail a, Array.tail b })

let private matches (expected: float -> float) (xs: float[]) (t: Tensor) =
    let got = values t
    ensure (t.DType = DType.Float64) (sprintf "dtype changed to %O" t.DType)
    ensure (close 1e-12 1e-12 got (Array.map expected xs)) (sprintf "got %A for %A" got xs)

/// This module's tests, the Expecto list "Ergonomics" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Ergonomics" [
        testPropertyWithConfig (maxTest 100) "scalar and tensor operators give elementwise values"
        <| fun () ->
            Prop.forAll pairArb (fun (xs, ys) ->
                scoped (fun () ->
                    let x = f64 [ int64 xs.Length ] xs
                    let y = f64 [ int64 ys.Length ] ys
                    let twoX: Tensor = 2.0 * x
                    let xTwo: Tensor = x * 2.0
                    let sum: Tensor = x + y
                    let neg: Tensor = -x
                    let minusOne: Tensor = x - 1.0
                    let recip: Tensor = 1.0 / x
                    matches (fun v -> 2.0 * v) xs twoX
                    matches (fun v -> v * 2.0) xs xTwo
                    ensure (close 1e-12 1e-12 (values sum) (Array.map2 (+) xs ys)) "x + y"
                    matches (fun v -> -v) xs neg
                    matches (fun v -> v - 1.0) xs minusOne
                    matches (fun v -> 1.0 / v) xs recip
                    true))

        testPropertyWithConfig (maxTest 100) "F# math functions work on tensors"
        <| fun () ->
            Prop.forAll pairArb (fun (xs, _) ->
                scoped (fun () ->
                    let x = f64 [ int64 xs.Length ] xs
                    let pos = f64 [ int64 xs.Length ] (Array.map abs xs)
                    let e: Tensor = exp x
                    let r: Tensor = sqrt pos
                    let t: Tensor = tanh x
                    let sq: Tensor = x ** 2.0
                    matches exp xs e
                    matches (abs >> sqrt) xs r
                    matches tanh xs t
                    matches (fun v -> v ** 2.0) xs sq
                    true))

        testCase "expressions mix operators and functions on float32 tensors"
        <| fun () ->
            scoped (fun () ->
                let x = f32 [ 3L ] [| 1.0f; 2.0f; 4.0f |]
                let y: Tensor = (2.0 * x + 1.0) ** 2.0 / x - sqrt x * exp (-x) + tanh (x - 2.0)
                expectEqual "dtype" DType.Float32 y.DType
                let expected = [| 1.0; 2.0; 4.0 |] |> Array.map (fun v -> (2.0 * v + 1.0) ** 2.0 / v - sqrt v * exp (-v) + tanh (v - 2.0))
                ensure (close 1e-5 1e-5 (values y) expected) (sprintf "got %A, expected %A" (values y) expected))
    ]
