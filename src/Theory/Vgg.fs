/// Seed 000 Q6: the VGG-11 table (output dimension and parameters, with bias, per layer), the total and
/// the share of the fully connected layers, read from the DSL's own summary and checked against the
/// closed forms conv: (k²·C_in + 1)·C_out, dense: (in + 1)·out, pool: ⌊H/2⌋.
module Dsl.Theory.Vgg

open System
open Dsl

/// A layer of a VGG-style description.
type Spec =
    | Conv of filters: int
    | ReLU
    | Pool
    | Flatten
    | FC of units: int
    | Softmax

/// The seed's VGG-11 (conv 3×3 with padding 1, 2×2 max pooling, three FC layers, softmax).
let vgg11 = [
    Conv 64
    ReLU
    Pool
    Conv 128
    ReLU
    Pool
    Conv 256
    ReLU
    Conv 256
    ReLU
    Pool
    Conv 512
    ReLU
    Conv 512
    ReLU
    Pool
    Conv 512
    ReLU
    Conv 512
    ReLU
    Pool
    FC 4096
    FC 4096
    FC 1000
    Softmax
]

/// The seed's row label.
let label (s: Spec) =
    match s with
    | Conv n -> sprintf "CONV3-%d" n
    | ReLU -> "ReLU"
    | Pool -> "POOL2"
    | Flatten -> "(flatten)"
    | FC n -> sprintf "FC-%d" n
    | Softmax -> "SOFTMAX"

/// The DSL layer of a spec.
let layer (s: Spec) : Layer =
    match s with
    | Conv n -> conv2dWith { ConvOptions.Default with Padding = Pad 1 } n (3, 3)
    | ReLU -> relu
    | Pool -> maxPool 2
    | Flatten -> flatten
    | FC n -> dense n
    | Softmax -> softmax

/// The specs with a flatten inserted before the first FC layer (the DSL needs it; it has no parameters).
let withFlatten (specs: Spec list) =
    match
        specs
        |> List.tryFindIndex (function
            | FC _ -> true
            | _ -> false)
    with
    | Some i -> List.take i specs @ [ Flatten ] @ List.skip i specs
    | None -> specs

/// Closed-form output shape (channels first) and parameter count of each layer, from the input shape.
let closedForm (input: int64 list) (specs: Spec list) : (Spec * int64 list * int64) list =
    let step (shape: int64 list) (s: Spec) =
        match s, shape with
        | Conv n, [ c; h; w ] -> [ int64 n; h + 2L - 3L + 1L; w + 2L - 3L + 1L ], (9L * c + 1L) * int64 n
        | Pool, [ c; h; w ] -> [ c; h / 2L; w / 2L ], 0L
        | Flatten, s -> [ List.fold (*) 1L s ], 0L
        | FC n, [ i ] -> [ int64 n ], (i + 1L) * int64 n
        | (ReLU | Softmax), s -> s, 0L
        | s, shape -> invalidArg "specs" (sprintf "%A cannot take shape %A" s shape)
    specs |> List.mapFold (fun shape s -> let out, p = step shape s in (s, out, p), out) input |> fst

/// The seed's "H x W x C" (or "N") for a shape.
let showDims (d: int64 list) =
    match d with
    | [ c; h; w ] -> sprintf "%dx%dx%d" h w c
    | ds -> ds |> List.map string |> String.concat "x"

/// One row of the filled table: the seed's label, output dimension and parameters from the DSL summary,
/// and the closed form's.
type Row = { Label: string; Output: string; Params: int64; ClosedOutput: string; ClosedParams: int64 }

/// Builds the model with the DSL and fills the table from `Summary.table`.
let fill (input: int64 list) (specs: Spec list) : Row list =
    let specs = withFlatten specs
    let model = Model.build input (serial (specs |> List.map layer))
    try
        let rows = Summary.table model
        List.map2
            (fun (s, d, p) (_, _, shape: Shape, n) ->
                let dims =
                    match shape with
                    | Shape.Dims ds -> ds
                    | _ -> []
                { Label = label s; Output = showDims dims; Params = n; ClosedOutput = showDims d; ClosedParams = p })
            (closedForm input specs)
            rows
    finally
        Model.dispose model

/// The FC layers' share of all parameters, in percent.
let fcShare (specs: Spec list) (rows: Row list) =
    let fc =
        List.zip (withFlatten specs) rows
        |> List.sumBy (fun (s, r) ->
            match s with
            | FC _ -> r.Params
            | _ -> 0L)
    100.0 * float fc / float (rows |> List.sumBy (fun r -> r.Params))

/// Checks a table: every row's output and count equal the closed form.
let checkRows (rows: Row list) : Verdict =
    match rows |> List.tryFind (fun r -> r.Output <> r.ClosedOutput || r.Params <> r.ClosedParams) with
    | Some r ->
        Verdict.fail (sprintf "%s: DSL %s, %d params; closed form %s, %d" r.Label r.Output r.Params r.ClosedOutput r.ClosedParams) (float r.ClosedParams) (float r.Params) ""
    | None ->
        let total, closed = rows |> List.sumBy (fun r -> r.Params), rows |> List.sumBy (fun r -> r.ClosedParams)
        Verdict.exact "total parameters" (float closed) (float total) 0.0 rows.Length

/// The table as text (the seed's layout plus the closed form).
let render (rows: Row list) =
    let sb = Text.StringBuilder()
    sb.AppendLine(sprintf "  %-10s %-14s %14s   %s" "Layer" "Output" "Params" "closed form") |> ignore
    sb.AppendLine(sprintf "  %-10s %-14s %14s" "INPUT" "224x224x3" "0") |> ignore
    for r in rows do
        sb.AppendLine(sprintf "  %-10s %-14s %14s   %s, %s" r.Label r.Output (r.Params.ToString("N0")) r.ClosedOutput (r.ClosedParams.ToString("N0"))) |> ignore
    sb.ToString()

/// The filled VGG-11 table, built once (the model has 133 million parameters; it is freed after reading its summary).
let standard = lazy (fill [ 3L; 224L; 224L ] vgg11)

/// VGG-11 on 224×224×3: all rows agree, the total is 132,863,336, and the FC layers hold 93.06%.
let checkVgg11 () : Verdict =
    let rows = standard.Force()
    let share = fcShare vgg11 rows
    let closedShare = 100.0 * float ((25088L + 1L) * 4096L + (4096L + 1L) * 4096L + (4096L + 1L) * 1000L) / 132863336.0
    Verdict.headline [
        (match checkRows rows with
         | Verified _ -> Verdict.exact "total parameters (DSL summary)" 132863336.0 (float (rows |> List.sumBy (fun r -> r.Params))) 0.0 rows.Length
         | r -> r)
        Verdict.exact "FC share of parameters (%)" closedShare share 1e-9 3
    ]
    |> Verdict.note (sprintf "FC layers hold %.2f%% of the parameters" share)

/// A random small VGG-like network for property tests.
type SmallCase = { Input: int64 list; Specs: Spec list }

let random (r: Random) : SmallCase =
    let c = int64 (Draw.int r 1 3)
    let h = Draw.int r 4 40
    let blocks = Draw.int r 1 3
    let rec build size i acc =
        if i = blocks || size < 2 then
            acc, size
        else
            let convs = [
                for _ in 1 .. Draw.int r 1 2 do
                    yield Conv(Draw.int r 1 12)
                    yield ReLU
            ]
            build (size / 2) (i + 1) (acc @ convs @ [ Pool ])
    let convPart, _ = build h 0 []
    let fcs = [ for _ in 1 .. Draw.int r 1 3 -> FC(Draw.int r 1 24) ]
    { Input = [ c; int64 h; int64 h ]; Specs = convPart @ fcs @ [ Softmax ] }

let describeSmall (c: SmallCase) = sprintf "input %A, layers %s" c.Input (c.Specs |> List.map label |> String.concat " ")

let checkSmall (_family: int) (c: SmallCase) : Verdict = checkRows (fill c.Input c.Specs)

let claim: Claim = {
    Id = "7"
    Name = "VGG-11 parameter table"
    Source = "seed 000 Q6"
    Statement =
        "VGG-11 (conv3 pad 1, pool 2, FC 4096-4096-1000, softmax) on 224×224×3 has 132,863,336 parameters with biases, 93.06% in the FC layers; per-layer output and counts as the DSL summary"
    Check = checkVgg11
}
