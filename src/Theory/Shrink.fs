/// A greedy shrinker: from a failing input, repeatedly move to the first simpler candidate that still
/// fails, until none does. Used to turn a random counterexample into a minimal, readable one.
module Dsl.Theory.Shrink

/// The shrunk input and the number of steps taken. `fails` must hold for `start`; `candidates` lists
/// simpler inputs (each strictly simpler, so that the search terminates; it also stops after 10,000 steps).
let minimize (fails: 'a -> bool) (candidates: 'a -> seq<'a>) (start: 'a) : 'a * int =
    let rec go x steps =
        if steps >= 10000 then
            x, steps
        else
            match candidates x |> Seq.tryFind fails with
            | Some y -> go y (steps + 1)
            | None -> x, steps
    go start 0

/// How complicated a number is: 0 for 0, then small integers, then numbers with more decimals.
let private complexity (v: float) =
    if v = 0.0 then
        0.0
    else
        let decimals = Seq.initInfinite id |> Seq.find (fun d -> d >= 6 || System.Math.Round(v, d) = v)
        float decimals * 1e6 + abs v

/// Simpler candidates of a float vector whose length is a multiple of `group` and at least `minGroups`
/// groups: drop a group; set an entry to 0, ±1 or ±2; round it to 0, 1 or 2 decimals; move an integer one step
/// toward 0. Every candidate has fewer groups, or the same length and a smaller total complexity.
let floats (group: int) (minGroups: int) (xs: float[]) : seq<float[]> =
    let total (v: float[]) = v |> Array.sumBy complexity
    let set i v =
        let c = Array.copy xs in
        c.[i] <- v
        c
    seq {
        let groups = xs.Length / group
        if groups > minGroups then for g in 0 .. groups - 1 -> Array.removeManyAt (g * group) group xs
        let t = total xs
        let simpler =
            seq {
                for i in 0 .. xs.Length - 1 do
                    let v = xs.[i]
                    for s in [ 0.0; 1.0; -1.0; 2.0; -2.0 ] -> set i s
                    for d in 0..2 -> set i (System.Math.Round(v, d))
                    if System.Math.Round v = v && abs v >= 1.0 then yield set i (v - float (sign v))
            }
        yield! simpler |> Seq.filter (fun c -> total c < t)
    }
