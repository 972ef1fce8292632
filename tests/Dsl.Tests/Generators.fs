/// FsCheck generators (with shrinkers) for the property tests: random layer stacks that are valid for
/// their input, dense and conv configurations, small float vectors and matrices, and trees.
module Dsl.Tests.Generators

open FsCheck
open FsCheck.FSharp
open Dsl

/// Smaller candidates for an int, towards `lo`.
let shrinkInt (lo: int) (x: int) : int list = [ lo; lo + (x - lo) / 2; x - 1 ] |> List.distinct |> List.filter (fun v -> v >= lo && v < x)

/// Fails the current case with a message (FsCheck reports the message of the smallest failing case).
let ensure (cond: bool) (message: string) = if not cond then failwith message

// ---------------------------------------------------------------- layer stacks

/// A layer of a generated stack, as plain data so that it prints and shrinks.
type LayerSpec =
    | Conv of filters: int * kernel: int * padding: Padding
    | Pool of kernel: int
    | Relu
    | Flatten
    | Dense of units: int

/// The output of one layer for a per-sample input shape, computed independently of the DSL; None when invalid.
let step (shape: int64 list) (spec: LayerSpec) : int64 list option =
    let spatial h k pad =
        match pad with
        | Valid -> h - int64 k + 1L
        | Same -> h
        | Pad p -> h + 2L * int64 p - int64 k + 1L
    match spec, shape with
    | Conv(f, k, pad), [ _; h; w ] ->
        let oh, ow = spatial h k pad, spatial w k pad
        if oh >= 1L && ow >= 1L then Some [ int64 f; oh; ow ] else None
    | Pool k, [ c; h; w ] when h >= int64 k && w >= int64 k -> Some [ c; h / int64 k; w / int64 k ]
    | Relu, s -> Some s
    | Flatten, s -> Some [ List.fold (*) 1L s ]
    | Dense u, [ _ ] -> Some [ int64 u ]
    | _ -> None

/// The output shape of a stack, or None when some layer cannot take its input.
let outShape (input: int64 list) (specs: LayerSpec list) : int64 list option = List.fold (fun s spec -> Option.bind (fun s -> step s spec) s) (Some input) specs

/// The DSL layer of a spec.
let toLayer (spec: LayerSpec) : Layer =
    match spec with
    | Conv(f, k, pad) -> conv2dWith { ConvOptions.Default with Padding = pad } f (k, k)
    | Pool k -> maxPool k
    | Relu -> relu
    | Flatten -> flatten
    | Dense u -> dense u

/// A stack of at least three layers valid for its input image, and a seed choosing a random bracketing.
type Stack = { Input: int64 list; Layers: LayerSpec list; Bracketing: int }

let private genPadding = Gen.oneof [ Gen.constant Valid; Gen.constant Same; Gen.choose (0, 2) |> Gen.map Pad ]

let private genImageLayer (shape: int64 list) : Gen<LayerSpec> =
    gen {
        let! kind = Gen.choose (0, 2)
        let! f = Gen.choose (1, 4)
        let! k = Gen.choose (1, 3)
        let! pad = genPadding
        let spec =
            match kind with
            | 0 -> Conv(f, k, pad)
            | 1 -> Pool 2
            | _ -> Relu
        return if (step shape spec).IsSome then spec else Relu
    }

let genStack: Gen<Stack> =
    gen {
        let! c = Gen.choose (1, 3)
        let! h = Gen.choose (3, 10)
        let! w = Gen.choose (3, 10)
        let input = [ int64 c; int64 h; int64 w ]
        let! n = Gen.choose (1, 4)
        let rec image i shape acc =
            gen {
                if i = 0 then
                    return List.rev acc
                else
                    let! spec = genImageLayer shape
                    return! image (i - 1) (Option.get (step shape spec)) (spec :: acc)
            }
        let! img = image n input []
        let! tailKind = Gen.choose (0, 2)
        let! u1 = Gen.choose (1, 6)
        let! u2 = Gen.choose (1, 6)
        let tail =
            match tailKind with
            | 0 -> []
            | 1 -> [ Flatten; Dense u1 ]
            | _ -> [ Flatten; Dense u1; Relu; Dense u2 ]
        let layers = img @ tail
        let layers = if List.length layers < 3 then layers @ List.replicate (3 - List.length layers) Relu else layers
        let! b = Gen.choose (0, 1000)
        return { Input = input; Layers = layers; Bracketing = b }
    }

let private shrinkSpec (spec: LayerSpec) : LayerSpec list =
    match spec with
    | Conv(f, k, pad) -> [
        yield Relu
        for f' in shrinkInt 1 f -> Conv(f', k, pad)
        for k' in shrinkInt 1 k -> Conv(f, k', pad)
        if pad <> Valid then yield Conv(f, k, Valid)
      ]
    | Dense u -> [ for u' in shrinkInt 1 u -> Dense u' ]
    | Pool _ -> [ Relu ]
    | Relu
    | Flatten -> []

let shrinkStack (s: Stack) : seq<Stack> =
    seq {
        let n = List.length s.Layers
        if n > 3 then for i in 0 .. n - 1 -> { s with Layers = List.removeAt i s.Layers }
        for i in 0 .. n - 1 do
            for spec in shrinkSpec s.Layers.[i] -> { s with Layers = List.updateAt i spec s.Layers }
        match s.Input with
        | [ c; h; w ] ->
            for c' in shrinkInt 1 (int c) -> { s with Input = [ int64 c'; h; w ] }
            for h' in shrinkInt 1 (int h) -> { s with Input = [ c; int64 h'; w ] }
            for w' in shrinkInt 1 (int w) -> { s with Input = [ c; h; int64 w' ] }
        | _ -> ()
        if s.Bracketing <> 0 then yield { s with Bracketing = 0 }
    }
    |> Seq.filter (fun s -> (outShape s.Input s.Layers).IsSome)

let stackArb: Arbitrary<Stack> = Arb.fromGenShrink (genStack, shrinkStack)

// ---------------------------------------------------------------- dense and conv configurations

type DenseCase = { In: int; Units: int; Bias: bool }

let denseArb: Arbitrary<DenseCase> =
    let g =
        gen {
            let! i = Gen.choose (1, 100)
            let! u = Gen.choose (1, 100)
            let! b = Gen.elements [ true; false ]
            return { In = i; Units = u; Bias = b }
        }
    let shrink (c: DenseCase) =
        seq {
            for i in shrinkInt 1 c.In -> { c with In = i }
            for u in shrinkInt 1 c.Units -> { c with Units = u }
            if not c.Bias then yield { c with Bias = true }
        }
    Arb.fromGenShrink (g, shrink)

type ConvCase = {
    Groups: int
    InPerGroup: int
    OutPerGroup: int
    KernelH: int
    KernelW: int
    Stride: int
    Padding: Padding
    Bias: bool
    Height: int
    Width: int
} with

    member c.Channels = c.Groups * c.InPerGroup
    member c.Filters = c.Groups * c.OutPerGroup

let convArb: Arbitrary<ConvCase> =
    let g =
        gen {
            let! groups = Gen.choose (1, 3)
            let! cin = Gen.choose (1, 3)
            let! cout = Gen.choose (1, 3)
            let! kh = Gen.choose (1, 4)
            let! kw = Gen.choose (1, 4)
            let! stride = Gen.choose (1, 2)
            let! pad = genPadding
            let! bias = Gen.elements [ true; false ]
            let! dh = Gen.choose (0, 6)
            let! dw = Gen.choose (0, 6)
            return {
                Groups = groups
                InPerGroup = cin
                OutPerGroup = cout
                KernelH = kh
                KernelW = kw
                Stride = stride
                Padding = pad
                Bias = bias
                Height = kh + dh
                Width = kw + dw
            }
        }
    let shrink (c: ConvCase) =
        seq {
            for v in shrinkInt 1 c.Groups -> { c with Groups = v }
            for v in shrinkInt 1 c.InPerGroup -> { c with InPerGroup = v }
            for v in shrinkInt 1 c.OutPerGroup -> { c with OutPerGroup = v }
            for v in shrinkInt 1 c.KernelH -> { c with KernelH = v }
            for v in shrinkInt 1 c.KernelW -> { c with KernelW = v }
            for v in shrinkInt 1 c.Stride -> { c with Stride = v }
            if c.Padding <> Valid then yield { c with Padding = Valid }
            if not c.Bias then yield { c with Bias = true }
            for v in shrinkInt c.KernelH c.Height -> { c with Height = v }
            for v in shrinkInt c.KernelW c.Width -> { c with Width = v }
        }
        |> Seq.filter (fun c -> c.Height >= c.KernelH && c.Width >= c.KernelW)
    Arb.fromGenShrink (g, shrink)

// ---------------------------------------------------------------- numbers

/// Values k/100 for k in [lo, hi] (so that they print and shrink as short decimals).
let genValue (lo: int) (hi: int) : Gen<float> = Gen.choose (lo, hi) |> Gen.map (fun k -> float k / 100.0)

let private shrinkValue (v: float) : float list =
    let k = int (round (v * 100.0))
    [ 0; k / 2 ] |> List.distinct |> List.filter (fun j -> abs j < abs k) |> List.map (fun j -> float j / 100.0)

/// Shrinks an array by dropping elements (keeping at least `minLen`) and moving values towards 0.
let shrinkArray (minLen: int) (a: float[]) : seq<float[]> =
    seq {
        if a.Length > minLen then for i in 0 .. a.Length - 1 -> Array.removeAt i a
        for i in 0 .. a.Length - 1 do
            for v in shrinkValue a.[i] -> Array.updateAt i v a
    }

/// A vector of 1..maxLen values in [−2, 2].
let vectorArb (maxLen: int) : Arbitrary<float[]> =
    let g =
        gen {
            let! n = Gen.choose (1, maxLen)
            return! Gen.arrayOfLength n (genValue -200 200)
        }
    Arb.fromGenShrink (g, shrinkArray 1)

/// A vector x of length n and a matrix of m·n values (row-major), values in [−2, 2].
type VecMat = { X: float[]; Rows: int; M: float[] }

let vecMatArb (square: bool) : Arbitrary<VecMat> =
    let g =
        gen {
            let! n = Gen.choose (1, 5)
            let! m = if square then Gen.constant n else Gen.choose (1, 4)
            let! x = Gen.arrayOfLength n (genValue -200 200)
            let! a = Gen.arrayOfLength (m * n) (genValue -200 200)
            return { X = x; Rows = m; M = a }
        }
    let shrink (c: VecMat) =
        seq {
            for i in 0 .. c.X.Length - 1 do
                for v in shrinkValue c.X.[i] -> { c with X = Array.updateAt i v c.X }
            for i in 0 .. c.M.Length - 1 do
                for v in shrinkValue c.M.[i] -> { c with M = Array.updateAt i v c.M }
        }
    Arb.fromGenShrink (g, shrink)

// ---------------------------------------------------------------- trees

let private names = [ "weight"; "bias"; "conv"; "dense_1"; "bn"; "head" ]

/// A tree whose nodes have 1..3 distinct children (never an empty node), leaves are ints.
let rec private genTree (depth: int) : Gen<Tree<int>> =
    let leaf = Gen.choose (-100, 100) |> Gen.map Tree.Leaf
    if depth = 0 then leaf else Gen.frequency [ 1, leaf; 2, genNode (depth - 1) ]

and private genNode (depth: int) : Gen<Tree<int>> =
    gen {
        let! k = Gen.choose (1, 3)
        let! shuffled = Gen.shuffle names
        let! kids = Gen.listOfLength k (genTree depth)
        return Tree.Node(List.zip (List.ofArray shuffled |> List.take k) kids)
    }

let rec private shrinkTree (t: Tree<int>) : seq<Tree<int>> =
    seq {
        match t with
        | Tree.Leaf v -> for v' in [ 0; v / 2 ] |> List.distinct |> List.filter (fun x -> abs x < abs v) -> Tree.Leaf v'
        | Tree.Node kids ->
            yield Tree.Leaf 0
            yield! shrinkNode t
    }

and private shrinkNode (t: Tree<int>) : seq<Tree<int>> =
    seq {
        match t with
        | Tree.Node kids ->
            if List.length kids > 1 then for i in 0 .. List.length kids - 1 -> Tree.Node(List.removeAt i kids)
            for i in 0 .. List.length kids - 1 do
                let n, k = kids.[i]
                for k' in shrinkTree k -> Tree.Node(List.updateAt i (n, k') kids)
        | Tree.Leaf _ -> ()
    }

/// A tree rooted at a node (as model parameters are).
let treeArb: Arbitrary<Tree<int>> = Arb.fromGenShrink (genNode 3, shrinkNode)
