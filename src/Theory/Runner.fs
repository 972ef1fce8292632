/// Runs claims and prints the table  claim | source | closed form | numeric | verdict.
module Dsl.Theory.Runner

open System
open System.Globalization

/// One row of the table.
type Row = { Claim: Claim; Verdict: Verdict; Seconds: float }

let private num (x: float) =
    if Double.IsNaN x then "NaN"
    elif Double.IsInfinity x then (if x > 0.0 then "∞" else "−∞")
    elif Math.Round x = x && abs x < 1e15 then x.ToString("#,0", CultureInfo.InvariantCulture)
    elif x <> 0.0 && (abs x >= 1e6 || abs x < 1e-3) then x.ToString("0.###e+0", CultureInfo.InvariantCulture)
    else x.ToString("G5", CultureInfo.InvariantCulture)

/// The closed-form cell.
let closedFormCell (v: Verdict) =
    match v with
    | Verified e when e.Kind = Bound -> sprintf "%s: bound %s" e.Quantity (num e.ClosedForm)
    | Verified e -> sprintf "%s = %s" e.Quantity (num e.ClosedForm)
    | Refuted c -> sprintf "claimed %s" (num c.Claimed)

/// The numeric cell.
let numericCell (v: Verdict) =
    match v with
    | Verified e when e.Kind = Bound -> sprintf "%s (%d check%s)" (num e.Estimate) e.Cases (if e.Cases = 1 then "" else "s")
    | Verified e when e.StandardError > 0.0 ->
        sprintf "%s ± %s (n=%s, %d check%s)" (num e.Estimate) (num e.StandardError) (num (float e.Samples)) e.Cases (if e.Cases = 1 then "" else "s")
    | Verified e -> sprintf "%s (exact, %d check%s)" (num e.Estimate) e.Cases (if e.Cases = 1 then "" else "s")
    | Refuted c -> sprintf "actual %s" (num c.Actual)

/// The verdict cell.
let verdictCell (v: Verdict) =
    match v with
    | Verified e ->
        let tol =
            match e.Kind with
            | Bound -> sprintf "bound holds, margin %s" (num e.Tolerance)
            | MonteCarlo -> sprintf "|Δ| ≤ %s" (num e.Tolerance)
            | Exact -> if e.Tolerance = 0.0 then "exact" else sprintf "|Δ| ≤ %s" (num e.Tolerance)
        sprintf "VERIFIED (%s)" tol
    | Refuted c -> sprintf "REFUTED: %O" c

/// Checks one claim, timing it; an exception becomes a refutation naming it.
let run (c: Claim) : Row =
    let sw = Diagnostics.Stopwatch.StartNew()
    let v =
        try
            c.Check()
        with e ->
            Verdict.fail "the check threw" 0.0 nan (e.GetType().Name + ": " + e.Message)
    { Claim = c; Verdict = v; Seconds = sw.Elapsed.TotalSeconds }

let private clip (w: int) (s: string) = if s.Length <= w then s.PadRight w else s.Substring(0, w - 1) + "…"

/// The table as text; `width` bounds the closed-form and numeric columns.
let render (rows: Row list) : string =
    let cells = rows |> List.map (fun r -> sprintf "%s %s" r.Claim.Id r.Claim.Name, r.Claim.Source, closedFormCell r.Verdict, numericCell r.Verdict, verdictCell r.Verdict)
    let w1 = cells |> List.map (fun (a, _, _, _, _) -> a.Length) |> List.fold max 5 |> min 50
    let w2 = cells |> List.map (fun (_, b, _, _, _) -> b.Length) |> List.fold max 6 |> min 34
    let w3 = cells |> List.map (fun (_, _, c, _, _) -> c.Length) |> List.fold max 11 |> min 60
    let w4 = cells |> List.map (fun (_, _, _, d, _) -> d.Length) |> List.fold max 7 |> min 44
    let line (a: string) b c d e = sprintf "%s | %s | %s | %s | %s" (clip w1 a) (clip w2 b) (clip w3 c) (clip w4 d) e
    let sep = String('-', w1) + "-+-" + String('-', w2) + "-+-" + String('-', w3) + "-+-" + String('-', w4) + "-+-" + String('-', 30)
    [ yield line "claim" "source" "closed form" "numeric" "verdict"; yield sep; for (a, b, c, d, e) in cells -> line a b c d e ] |> String.concat Environment.NewLine

/// The notes of each verified claim (sub-checks and findings) as text.
let notes (rows: Row list) : string =
    rows
    |> List.choose (fun r ->
        match r.Verdict with
        | Verified e when e.Note <> "" -> Some(sprintf "  %-4s %s" r.Claim.Id e.Note)
        | _ -> None)
    |> String.concat Environment.NewLine

/// Runs the claims, printing each row as it completes, then the table; returns the rows.
let runAll (claims: Claim list) : Row list =
    let rows =
        claims
        |> List.map (fun c ->
            let r = run c
            eprintfn
                "  [%5.1fs] %s %s: %s"
                r.Seconds
                c.Id
                c.Name
                (match r.Verdict with
                 | Verified _ -> "verified"
                 | Refuted _ -> "refuted")
            r)
    printfn "%s" (render rows)
    rows
