/// Seed 002 Q2: convolution by hand, with the engine's conv2d and max_pool2d: filter 1 on the 4×4
/// image (padding 1, stride 1), 2×2 max pooling, and filters 2 and 3 recovered from their output
/// tables by least squares.
module Dsl.Theory.ConvByHand

open System
open MathNet.Numerics.LinearAlgebra
open Dsl.Engine

/// Table 3.1.
let image = [| 2.; 1.; 3.; 3.; 1.; 6.; 2.; 5.; 1.; 4.; 5.; 2.; 6.; 6.; 5.; 3. |]
/// Filter #1.
let filter1 = [| 0.; 1.; 2.; 1.; 0.; 1.; 2.; 1.; 0. |]
/// Table 3.4 (filter 1), 3.5 (filter 2), 3.6 (filter 3).
let table34 = [| 2.; 13.; 18.; 12.; 11.; 16.; 33.; 17.; 23.; 34.; 35.; 23.; 15.; 25.; 18.; 7. |]
let table35 = [| 8.; 4.; 14.; 5.; 6.; 17.; 12.; 13.; 13.; 18.; 25.; 9.; 10.; 12.; 11.; 8. |]
let table36 = [| 10.; 24.; 17.; 16.; 22.; 23.; 41.; 17.; 28.; 42.; 35.; 28.; 14.; 31.; 32.; 19. |]
/// Tables 3.10, 3.11, 3.12 (pooled).
let pooled310 = [| 16.; 33.; 34.; 35. |]
let pooled311 = [| 17.; 14.; 18.; 25. |]
let pooled312 = [| 24.; 41.; 42.; 35. |]

/// The engine's conv2d of an h×w image with a k×k filter (padding p, stride 1), float64, flattened.
let conv (h: int) (w: int) (img: float[]) (k: int) (filter: float[]) (pad: int) : float[] =
    Engine.scoped (fun () ->
        let x = Engine.tensor [ 1L; 1L; int64 h; int64 w ] img
        let f = Engine.tensor [ 1L; 1L; int64 k; int64 k ] filter
        Engine.values (Functional.Conv2d(x, f, null, 1L, int64 pad)))

/// The engine's 2×2 max pooling (stride 2) of an h×w table, flattened.
let pool (h: int) (w: int) (t: float[]) : float[] = Engine.scoped (fun () -> Engine.values (Functional.MaxPool2d(Engine.tensor [ 1L; 1L; int64 h; int64 w ] t, 2L)))

/// The same convolution written out as loops (cross-correlation with zero padding).
let convByLoops (h: int) (w: int) (img: float[]) (k: int) (filter: float[]) (pad: int) : float[] =
    let oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    let px i j = if i < 0 || j < 0 || i >= h || j >= w then 0.0 else img.[i * w + j]
    [|
        for i in 0 .. oh - 1 do
            for j in 0 .. ow - 1 ->
                Seq.sum (
                    seq {
                        for a in 0 .. k - 1 do
                            for b in 0 .. k - 1 -> px (i + a - pad) (j + b - pad) * filter.[a * k + b]
                    }
                )
    |]

/// 2×2 max pooling as loops.
let poolByLoops (h: int) (w: int) (t: float[]) : float[] = [|
    for i in 0 .. h / 2 - 1 do
        for j in 0 .. w / 2 - 1 -> List.max [ t.[2 * i * w + 2 * j]; t.[2 * i * w + 2 * j + 1]; t.[(2 * i + 1) * w + 2 * j]; t.[(2 * i + 1) * w + 2 * j + 1] ]
|]

/// The linear map filter ↦ conv output as a matrix A (outputs × k²), column m being the engine's
/// convolution of the image with the m-th basis filter (im2col by convolution).
let design (h: int) (w: int) (img: float[]) (k: int) (pad: int) : Matrix<float> =
    let cols = [ for m in 0 .. k * k - 1 -> conv h w img k (Array.init (k * k) (fun i -> if i = m then 1.0 else 0.0)) pad ]
    Matrix<float>.Build.DenseOfColumnArrays(cols)

/// Least-squares filter from an output table, with the rank of A.
let recover (h: int) (w: int) (img: float[]) (k: int) (pad: int) (table: float[]) : float[] * int =
    let a = design h w img k pad
    let rank = a.Rank()
    if rank < k * k then Array.create (k * k) nan, rank else a.QR().Solve(Vector<float>.Build.DenseOfArray table).ToArray(), rank

/// A rounding bound for a least-squares solution: cond(A)·8·m·ε·max(|filter|, 1) for m output equations.
let recoveryTolerance (h: int) (w: int) (img: float[]) (k: int) (pad: int) (filter: float[]) =
    let a = design h w img k pad
    a.ConditionNumber() * Tolerance.rounding a.RowCount (max 1.0 (filter |> Array.map abs |> Array.max))

let private maxDiff (a: float[]) (b: float[]) = Stats.maxAbsDiff a b

/// 8a: filter 1 gives Table 3.4 and pooling gives Table 3.10, exactly.
let checkFilter1 () : Verdict =
    let out = conv 4 4 image 3 filter1 1
    Verdict.headline [
        Verdict.exact "max |conv2d − Table 3.4|" 0.0 (maxDiff out table34) 0.0 16
        Verdict.exact "max |max_pool2d − Table 3.10|" 0.0 (maxDiff (pool 4 4 out) pooled310) 0.0 4
    ]

/// 8b: filters 2 and 3 recovered by least squares are integral, reproduce Tables 3.5/3.6 exactly and pool to 3.11/3.12.
let checkRecovered () : Verdict =
    let one (name: string) (table: float[]) (pooled: float[]) =
        let k, rank = recover 4 4 image 3 1 table
        let rounded = k |> Array.map (fun v -> Math.Round v + 0.0)
        let integral = k |> Array.map2 (fun r v -> abs (r - v)) rounded |> Array.max
        let tol = recoveryTolerance 4 4 image 3 1 rounded
        let shown = sprintf "[[%s]]" (rounded |> Array.chunkBySize 3 |> Array.map (Array.map (sprintf "%g") >> String.concat ",") |> String.concat "],[")
        [
            Verdict.exact (sprintf "%s: max |k − round(k)|" name) 0.0 integral tol 9
            Verdict.exact (sprintf "%s: rank of A" name) 9.0 (float rank) 0.0 1
            Verdict.exact (sprintf "%s: max |conv2d(round k) − table|" name) 0.0 (maxDiff (conv 4 4 image 3 rounded 1) table) 0.0 16
            Verdict.exact (sprintf "%s: max |max_pool2d − pooled table|" name) 0.0 (maxDiff (pool 4 4 table) pooled) 0.0 4
        ]
        |> Verdict.all
        |> Verdict.note (sprintf "%s = %s" name shown)
    let f2 = one "filter 2" table35 pooled311
    let f3 = one "filter 3" table36 pooled312
    let recovered1 = recover 4 4 image 3 1 table34 |> fst
    Verdict.headline [ f2; f3; Verdict.exact "filter 1 recovered from Table 3.4" 0.0 (maxDiff recovered1 filter1) (recoveryTolerance 4 4 image 3 1 filter1) 9 ]
    |> Verdict.note (
        match f3 with
        | Verified b -> b.Note
        | _ -> ""
    )

/// A random integer image and filter for property tests.
type Case = { H: int; W: int; K: int; Pad: int; Image: float[]; Filter: float[] }

let describe (c: Case) = sprintf "%d×%d image, %d×%d filter, padding %d: image %A filter %A" c.H c.W c.K c.K c.Pad c.Image c.Filter

let random (r: Random) : Case =
    let h, w, k = Draw.int r 3 7, Draw.int r 3 7, Draw.pick r [| 1; 2; 3 |]
    { H = h; W = w; K = k; Pad = Draw.int r 0 1; Image = Array.init (h * w) (fun _ -> float (r.Next(-5, 10))); Filter = Array.init (k * k) (fun _ -> float (r.Next(-3, 4))) }

/// The engine's conv2d and max_pool2d equal the loops exactly (small integers), and least squares
/// recovers the filter from the output exactly when the design has full column rank.
let check (_family: int) (c: Case) : Verdict =
    let out = conv c.H c.W c.Image c.K c.Filter c.Pad
    let oh, ow = c.H + 2 * c.Pad - c.K + 1, c.W + 2 * c.Pad - c.K + 1
    let k, rank = recover c.H c.W c.Image c.K c.Pad out
    Verdict.headline [
        Verdict.exact "max |conv2d − loops|" 0.0 (maxDiff out (convByLoops c.H c.W c.Image c.K c.Filter c.Pad)) 0.0 out.Length
        (if oh >= 2 && ow >= 2 then
             Verdict.exact "max |max_pool2d − loops|" 0.0 (maxDiff (pool oh ow out) (poolByLoops oh ow out)) 0.0 out.Length
         else
             Verdict.exact "output too small to pool (skipped)" 0.0 0.0 0.0 1)
        (if rank = c.K * c.K then
             Verdict.exact "max |recovered − filter|" 0.0 (maxDiff k c.Filter) (recoveryTolerance c.H c.W c.Image c.K c.Pad c.Filter) 1
         else
             Verdict.exact "rank-deficient design (skipped)" 0.0 0.0 0.0 1)
    ]

let claimFilter1: Claim = {
    Id = "8a"
    Name = "Conv by hand: filter 1 and pooling"
    Source = "seed 002 Q2"
    Statement = "the 4×4 image with padding 1 and filter [[0,1,2],[1,0,1],[2,1,0]] gives Table 3.4; 2×2 max pooling gives [[16,33],[34,35]]"
    Check = checkFilter1
}

let claimRecovered: Claim = {
    Id = "8b"
    Name = "Conv by hand: filters 2 and 3 recovered"
    Source = "seed 002 Q2"
    Statement = "least squares on Tables 3.5 and 3.6 recovers integral filters that reproduce them exactly; their pooled tables are [[17,14],[18,25]] and [[24,41],[42,35]]"
    Check = checkRecovered
}
