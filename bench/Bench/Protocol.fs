/// What the three sides share: the request line, the reply line, and how a side measures.
///
/// The harness starts each side once and keeps it alive. A side prints one JSON line {"ready": ...}
/// when initialised, then answers each request line `<bench> <reps> <iters> <warm>` with one JSON line
/// {"bench", "unit", "values": [one value per rep]} (or {"bench", "error"}). A value is the mean over
/// <iters> iterations of one rep, after <warm> untimed iterations. `quit` or end of input exits.
/// bench/torch_bench.py and bench/cpp/bench.cpp implement the same protocol.
module Bench.Protocol

open System
open System.Diagnostics
open System.Globalization
open System.Text.Json.Nodes

/// A request: which benchmark, how many timed reps, iterations per rep, untimed warm-up iterations.
type Request = {
    Bench: string
    Reps: int
    Iters: int
    Warm: int
} with

    override r.ToString() = sprintf "%s %d %d %d" r.Bench r.Reps r.Iters r.Warm

    static member Parse(line: string) : Request option =
        match line.Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> List.ofArray with
        | [] -> None
        | "quit" :: _ -> None
        | bench :: rest ->
            let n i d =
                match List.tryItem i rest with
                | Some(s: string) -> int s
                | None -> d
            Some { Bench = bench; Reps = n 0 1; Iters = n 1 1; Warm = n 2 0 }

/// Runs `body` `warm` times, then `reps` times `iters` iterations; each value is seconds per iteration × scale.
let measure (reps: int) (iters: int) (warm: int) (scale: float) (body: unit -> unit) : float list =
    for _ in 1..warm do
        body ()
    [
        for _ in 1..reps do
            let t0 = Stopwatch.GetTimestamp()
            for _ in 1..iters do
                body ()
            let dt = Stopwatch.GetElapsedTime(t0).TotalSeconds
            yield dt * scale / float iters
    ]

/// A number, or null when it is NaN or infinite (JSON has no NaN).
let num (x: float) : JsonNode | null = if Double.IsFinite x then JsonValue.Create x else null

/// A JSON array of numbers (null for NaN or infinite ones).
let numbers (xs: float seq) : JsonArray = JsonArray(xs |> Seq.map num |> Array.ofSeq)

/// A JSON object from (name, node) pairs (a null node is JSON's null).
let obj (fields: (string * (JsonNode | null)) list) : JsonObject =
    let o = JsonObject()
    for k, v in fields do
        o[k] <- v
    o

let str (s: string) : JsonNode | null = JsonValue.Create s
let int64n (x: int64) : JsonNode = JsonValue.Create x
let boolean (b: bool) : JsonNode = JsonValue.Create b

/// The field `name` of a reply, which must be there and not null; fails naming the field and the reply.
let field (o: JsonObject) (name: string) : JsonNode =
    match o[name] with
    | null -> failwithf "reply %s has no field %s (or it is null)" (o.ToJsonString()) name
    | v -> v

/// One line of compact JSON.
let line (o: JsonObject) = o.ToJsonString()

/// Numbers as the report prints them (invariant culture, 4 significant digits, never exponent form in range).
let fmt (x: float) =
    if Double.IsNaN x then "n/a"
    elif x = 0.0 then "0"
    elif abs x >= 1000.0 then x.ToString("F0", CultureInfo.InvariantCulture)
    elif abs x >= 100.0 then x.ToString("F1", CultureInfo.InvariantCulture)
    elif abs x >= 10.0 then x.ToString("F2", CultureInfo.InvariantCulture)
    elif abs x >= 1.0 then x.ToString("F3", CultureInfo.InvariantCulture)
    else x.ToString("G3", CultureInfo.InvariantCulture)

/// VmRSS of this process in kB (Linux), or -1.
let rssKb () : int64 =
    try
        IO.File.ReadLines "/proc/self/status"
        |> Seq.tryFind (fun l -> l.StartsWith "VmRSS:")
        |> Option.map (fun l -> l.Substring(6).Trim().Split(' ').[0] |> int64)
        |> Option.defaultValue -1L
    with _ ->
        -1L

/// Minor page faults of this process so far (Linux /proc/self/stat field 10), or -1.
let minorFaults () : int64 =
    try
        let stat = IO.File.ReadAllText "/proc/self/stat"
        let fields = stat.Substring(stat.LastIndexOf ')' + 2).Split(' ')
        int64 fields.[7]
    with _ ->
        -1L

/// The values of a reply (null → NaN).
let values (o: JsonObject) =
    (field o "values").AsArray()
    |> Seq.map (fun v ->
        match v with
        | null -> nan
        | v -> v.GetValue<float>())
    |> List.ofSeq

/// Sets a child's environment: each (name, Some value) set, each (name, None) removed (inherited otherwise).
let applyEnv (psi: System.Diagnostics.ProcessStartInfo) (env: (string * string option) list) =
    for k, v in env do
        match v with
        | Some value -> psi.Environment[k] <- value
        | None -> psi.Environment.Remove k |> ignore
