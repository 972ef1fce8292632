/// Seed 000 Q2: "guess and check" learning of f(x) = sign(w₂ᵀ[W₁x]₊) with weights on q levels,
/// checked by exhaustive enumeration of tiny networks and by simulating the algorithm.
module Dsl.Theory.GuessAndCheck

open System
open System.Collections.Generic

/// A two-layer architecture: d₀ inputs, d₁ hidden ReLU neurons, q quantisation levels (odd).
type Arch = { D0: int; D1: int; Q: int }

/// Number of parameters k = d₀d₁ + d₁.
let paramCount (a: Arch) = a.D0 * a.D1 + a.D1

/// q^e as an int64.
let power (q: int) (e: int) = pown (int64 q) e

/// The levels Q = {−(q−1)/2, …, (q−1)/2}.
let levels (q: int) = Array.init q (fun i -> i - (q - 1) / 2)

/// The network with index `index` in 0 … q^k − 1: its base-q digits as levels, W₁ row-major then w₂.
let decode (a: Arch) (index: int64) : int[] =
    let k = paramCount a
    let w = Array.zeroCreate k
    let mutable rest = index
    for i in 0 .. k - 1 do
        w.[i] <- int (rest % int64 a.Q) - (a.Q - 1) / 2
        rest <- rest / int64 a.Q
    w

/// The index of a parameter vector (inverse of `decode`).
let encode (a: Arch) (w: int[]) : int64 =
    let mutable idx = 0L
    for i in w.Length - 1 .. -1 .. 0 do
        idx <- idx * int64 a.Q + int64 (w.[i] + (a.Q - 1) / 2)
    idx

/// f_w(x) = sign(w₂ᵀ[W₁x]₊) in exact integer arithmetic (sign 0 is a value of its own).
let output (a: Arch) (w: int[]) (x: int[]) : int =
    let mutable s = 0L
    for j in 0 .. a.D1 - 1 do
        let mutable h = 0L
        for i in 0 .. a.D0 - 1 do
            h <- h + int64 w.[j * a.D0 + i] * int64 x.[i]
        if h > 0L then s <- s + int64 w.[a.D0 * a.D1 + j] * h
    sign s

let rec private gcd (a: int) (b: int) = if b = 0 then abs a else gcd b (a % b)

/// Inputs on which equality of two such networks decides equality for all x. f is positively
/// homogeneous, so only directions matter. For d₀ = 1 these are ±1. For d₀ = 2, every direction where
/// some network of this architecture changes value is the zero line of an integer vector with entries
/// at most M = d₁((q−1)/2)² (a neuron row, or w₂-weighted sums of rows in a region), and between two
/// consecutive such directions the sum of their integer vectors (entries ≤ 2M) lies strictly inside;
/// so all primitive integer vectors in [−2M, 2M]² form a dense set that decides equality exactly.
let probes (a: Arch) : int[][] =
    match a.D0 with
    | 1 -> [| [| 1 |]; [| -1 |] |]
    | 2 ->
        let h = (a.Q - 1) / 2
        let r = max 1 (2 * a.D1 * h * h)
        [|
            for x in -r .. r do
                for y in -r .. r do
                    if gcd x y = 1 then yield [| x; y |]
        |]
    | d -> invalidArg "a" (sprintf "probes: exact equality is implemented for d₀ ∈ {1, 2}, got %d" d)

/// The values of f_w on the probes: two networks compute the same function iff their signatures agree.
let signature (a: Arch) (ps: int[][]) (w: int[]) : sbyte[] = ps |> Array.map (fun x -> sbyte (output a w x))

/// Whether exhaustive enumeration is cheap enough (q^k ≤ 20,000 networks, ≤ 4·10⁶ evaluations).
let feasible (a: Arch) =
    let k = paramCount a
    float a.Q ** float k <= 20000.0 && (a.D0 = 1 || power a.Q k * int64 (probes a).Length <= 4_000_000L)

/// A teacher with at most d₁* non-zero neurons: neurons d₁*, …, d₁−1 have all weights 0, the others random levels.
let teacher (a: Arch) (d1Star: int) (r: Random) : int[] =
    let w = Array.zeroCreate (paramCount a)
    let lv = levels a.Q
    for j in 0 .. d1Star - 1 do
        for i in 0 .. a.D0 - 1 do
            w.[j * a.D0 + i] <- Draw.pick r lv
        w.[a.D0 * a.D1 + j] <- Draw.pick r lv
    w

/// p* = P_w(f_w = f_w*) by enumerating all q^k networks, as (count, q^k).
let exactPStar (a: Arch) (wStar: int[]) : int64 * int64 =
    let ps = probes a
    let target = signature a ps wStar
    let total = power a.Q (paramCount a)
    let mutable count = 0L
    for idx in 0L .. total - 1L do
        let w = decode a idx
        let mutable same = true
        let mutable i = 0
        while same && i < ps.Length do
            if output a w ps.[i] <> int target.[i] then same <- false
            i <- i + 1
        if same then count <- count + 1L
    count, total

/// Number of distinct functions |{f_w : w ∈ Q^k}|, by enumeration.
let distinctFunctions (a: Arch) : int =
    let ps = probes a
    let seen = HashSet<string>()
    for idx in 0L .. power a.Q (paramCount a) - 1L do
        seen.Add(String(signature a ps (decode a idx) |> Array.map (fun s -> char (int s + 66)))) |> ignore
    seen.Count

/// A tiny case: architecture, d₁* < d₁, seed.
type Case = { Arch: Arch; D1Star: int; Seed: int }

let describe (c: Case) = sprintf "d₀=%d d₁=%d d₁*=%d q=%d seed=%d" c.Arch.D0 c.Arch.D1 c.D1Star c.Arch.Q c.Seed

/// A random feasible tiny case.
let rec random (r: Random) : Case =
    let a = { D0 = Draw.int r 1 2; D1 = Draw.int r 1 4; Q = Draw.pick r [| 3; 5; 7 |] }
    if feasible a then { Arch = a; D1Star = Draw.int r 0 (a.D1 - 1); Seed = r.Next() } else random r

// ---------------------------------------------------------------- (a) P(w = w*) = q^(−k)

/// (a) Monte Carlo: draw w uniformly from Q^k (coordinate by coordinate, stopping at the first mismatch)
/// n = ⌈400·q^k⌉ times and count w = w*; the frequency is compared with q^(−k) within k·SE.
let checkExactHit (family: int) (c: Case) : Verdict =
    let a = c.Arch
    let k = paramCount a
    let r = Random(c.Seed)
    let wStar = teacher a c.D1Star r |> Array.map (fun v -> v + (a.Q - 1) / 2)
    let p = 1.0 / float (power a.Q k)
    let n = int (min 2_000_000.0 (ceil (400.0 / p)))
    let mutable hits = 0
    for _ in 1..n do
        let mutable j = 0
        while j < k && r.Next a.Q = wStar.[j] do
            j <- j + 1
        if j = k then hits <- hits + 1
    Verdict.monteCarlo "P(w = w*)" (Tolerance.familyWise family) p (float hits / float n) (Stats.bernoulliSe p n) n

/// Random cases for (a): q^k ≤ 2000 so that n stays below a million.
let rec randomSmall (r: Random) : Case =
    let c = random r
    if float c.Arch.Q ** float (paramCount c.Arch) <= 2000.0 then c else randomSmall r

// ---------------------------------------------------------------- (b) p* ≥ q^(−(d₀d₁* + d₁))

/// (b) p* by exhaustive enumeration against the bound q^(−(d₀d₁* + d₁)).
let checkPStar (_family: int) (c: Case) : Verdict =
    let a = c.Arch
    let wStar = teacher a c.D1Star (Random c.Seed)
    let count, total = exactPStar a wStar
    let bound = float a.Q ** -(float (a.D0 * c.D1Star + a.D1))
    Verdict.atLeast "p* ≥ q^−(d₀d₁*+d₁)" false bound (float count / float total) (int total) |> Verdict.note (sprintf "p* = %d/%d" count total)

// ---------------------------------------------------------------- (c) stopping time

/// (c) Simulates guess and check on a dataset of N = 6 random integer inputs labelled by the teacher:
/// the stopping time t is geometric with success probability p_S (the exact fraction of networks that
/// fit the data), so P(t > T) = (1 − p_S)^⌊T⌋. For three T (non-integer, around tail levels 0.6, 0.3,
/// 0.1) the simulated tail is compared with that closed form within k·SE, and the bound
/// ⌊T⌋ ≤ log P(t > T)/log(1 − p*) is checked exactly and on the simulated tail (up to k·SE).
let checkStoppingTime (family: int) (c: Case) : Verdict =
    let a = c.Arch
    let r = Random(c.Seed)
    let wStar = teacher a c.D1Star r
    let count, total = exactPStar a wStar
    let pStar = float count / float total
    let data = Array.init 6 (fun _ -> let rec draw () = (let x = Array.init a.D0 (fun _ -> r.Next(-5, 6)) in if Array.forall ((=) 0) x then draw () else x) in draw ())
    let labels = data |> Array.map (output a wStar)
    let fits = Array.init (int total) (fun i -> let w = decode a (int64 i) in Array.forall2 (fun x y -> output a w x = y) data labels)
    let pS = float (fits |> Array.filter id |> Array.length) / float total
    let runs = 3000
    let times =
        Array.init runs (fun _ ->
            let mutable t = 1 in
            (while not fits.[r.Next(int total)] do
                t <- t + 1)
            t)
    let k = Tolerance.familyWise (3 * family)
    let logQ = log (1.0 - pStar)
    let checks = [
        for level in [ 0.6; 0.3; 0.1 ] ->
            let T = (if pS >= 1.0 then 0.0 else floor (log level / log (1.0 - pS))) + 0.5
            let fT = floor T
            let closed = (1.0 - pS) ** fT
            let est = float (times |> Array.filter (fun t -> float t > T) |> Array.length) / float runs
            let se = Stats.bernoulliSe closed runs
            let agree = Verdict.monteCarlo (sprintf "P(t > %.1f)" T) k closed est se runs
            let exactBound = Verdict.atLeast "p_S ≥ p* (so the exact tail obeys the bound)" false pStar pS (int total)
            let mcBound =
                if pStar = 1.0 || est <= (1.0 - pStar) ** fT + k * se then
                    exactBound
                else
                    Verdict.fail (sprintf "simulated P(t > %.1f) ≤ (1−p*)^⌊T⌋" T) ((1.0 - pStar) ** fT) est "simulated tail above the bound"
            let ratio = if est > 0.0 && pStar < 1.0 then log est / logQ else infinity
            Verdict.headline [ agree; mcBound ] |> Verdict.note (sprintf "⌊T⌋ = %g ≤ log P̂/log(1−p*) = %.3g" fT ratio)
    ]
    Verdict.all checks |> Verdict.note (sprintf "p_S = %.4g ≥ p* = %.4g" pS pStar)

// ---------------------------------------------------------------- (d) bound (3) < bound (4)

/// Sizes for the comparison of the two generalisation bounds.
type Sizes = { D0: int; D1: int; D1Star: int; Q: int; N: int; Delta: float }

let describeSizes (s: Sizes) = sprintf "d₀=%d d₁=%d d₁*=%d q=%d N=%d δ=%.3g" s.D0 s.D1 s.D1Star s.Q s.N s.Delta

/// Random sizes: d₀ ≤ 64, d₁ ≤ 256, d₁* < d₁, odd q ≤ 255, N ≤ 10⁶, δ ∈ [10⁻⁶, 0.5].
let randomSizes (r: Random) : Sizes =
    let d1 = Draw.int r 1 256
    { D0 = Draw.int r 1 64; D1 = d1; D1Star = Draw.int r 0 (d1 - 1); Q = 2 * Draw.int r 1 127 + 1; N = Draw.int r 1 1_000_000; Delta = Draw.logUniform r 1e-6 0.5 }

/// Bound (3) without the log log(1/η) term: ((d₀d₁* + d₁) log q + log(1/δ))/N.
let bound3 (s: Sizes) = (float (s.D0 * s.D1Star + s.D1) * log (float s.Q) + log (1.0 / s.Delta)) / float s.N

/// Bound (4) with |F| = q^k: (k log q + log(1/δ))/N.
let bound4 (s: Sizes) = (float (s.D0 * s.D1 + s.D1) * log (float s.Q) + log (1.0 / s.Delta)) / float s.N

/// (d) bound (4) − bound (3) = d₀(d₁ − d₁*) log q / N > 0 whenever d₁* < d₁.
let checkBounds (_family: int) (s: Sizes) : Verdict =
    let diff = bound4 s - bound3 s
    let closed = float s.D0 * float (s.D1 - s.D1Star) * log (float s.Q) / float s.N
    if diff > 0.0 then
        Verdict.exact "bound(4) − bound(3)" closed diff (Tolerance.rounding 8 (bound4 s)) 1
    else
        Verdict.fail "bound(3) < bound(4)" (bound3 s) (bound4 s) "bound (3) is not smaller"

// ---------------------------------------------------------------- (e) with |F| the number of distinct functions

/// (e) The same comparison when |F| counts distinct functions f_w rather than parameter vectors:
/// bound (3) beats (4) iff q^(d₀d₁* + d₁) < |F|. Searched exhaustively over tiny architectures in
/// increasing q^k, then d₁*; the first failure is the smallest counterexample.
let distinctCounterexample () : Verdict =
    let candidates =
        [
            for d0 in 1..2 do
                for d1 in 1..3 do
                    for q in [ 3; 5 ] do
                        let a = { Arch.D0 = d0; D1 = d1; Q = q }
                        if feasible a then for d1s in 0 .. d1 - 1 -> a, d1s
        ]
        |> List.sortBy (fun (a, d1s) -> power a.Q (paramCount a), d1s)
    let cache = Dictionary<Arch, int>()
    let distinct a =
        match cache.TryGetValue a with
        | true, v -> v
        | _ ->
            (let v = distinctFunctions a in
             cache.[a] <- v
             v)
    let strict = candidates |> List.tryFind (fun (a, d1s) -> power a.Q (a.D0 * d1s + a.D1) > int64 (distinct a))
    let strictNote =
        match strict with
        | Some(a, d1s) -> sprintf "; first strict reversal: d₀=%d d₁=%d d₁*=%d q=%d, q^(d₀d₁*+d₁) = %d > |F| = %d" a.D0 a.D1 d1s a.Q (power a.Q (a.D0 * d1s + a.D1)) (distinct a)
        | None -> ""
    match candidates |> List.tryFind (fun (a, d1s) -> power a.Q (a.D0 * d1s + a.D1) >= int64 (distinct a)) with
    | Some(a, d1s) ->
        let e = a.D0 * d1s + a.D1
        Refuted {
            Input =
                sprintf
                    "d₀=%d d₁=%d d₁*=%d q=%d: q^(d₀d₁*+d₁) = %d is not below |F| = %d distinct functions (of q^k = %d parameter vectors)"
                    a.D0
                    a.D1
                    d1s
                    a.Q
                    (power a.Q e)
                    (distinct a)
                    (power a.Q (paramCount a))
            Claimed = float (power a.Q e)
            Actual = float (distinct a)
            ShrinkSteps = 0
            Note = sprintf "so bound (4) with the true |F| is at least as good as bound (3); smallest case by exhaustive search%s" strictNote
        }
    | None -> Verdict.exact "bound (3) < bound (4) with distinct |F|" 0.0 0.0 0.0 candidates.Length

// ---------------------------------------------------------------- claims

let claimExactHit: Claim = {
    Id = "2a"
    Name = "Guess & check: P(w = w*)"
    Source = "seed 000 Q2.1"
    Statement = "P_{w~P_W}(w = w*) = q^(−k) for k parameters uniform on q levels"
    Check = fun () -> Sweep.run 12 201 randomSmall describe checkExactHit
}

let claimPStar: Claim = {
    Id = "2b"
    Name = "Guess & check: p* lower bound"
    Source = "seed 000 Q2.2"
    Statement = "p* = P(∀x: f_w(x) = f_w*(x)) ≥ q^(−(d₀d₁* + d₁)) (exhaustive enumeration, exact function equality)"
    Check = fun () -> Sweep.run 25 202 random describe checkPStar
}

let claimStoppingTime: Claim = {
    Id = "2c"
    Name = "Guess & check: stopping-time tail"
    Source = "seed 000 Q2.3"
    Statement = "⌊T⌋ ≤ log P(t > T)/log(1 − p*) for the stopping time t of guess and check"
    Check = fun () -> Sweep.run 12 203 random describe checkStoppingTime
}

let claimBounds: Claim = {
    Id = "2d"
    Name = "Bound (3) < bound (4)"
    Source = "seed 000 Q2.5"
    Statement = "((d₀d₁*+d₁)log q + log 1/δ)/N < (log|F| + log 1/δ)/N with |F| = q^k, whenever d₁* < d₁"
    Check = fun () -> Sweep.run 1000 204 randomSizes describeSizes checkBounds
}

let claimDistinct: Claim = {
    Id = "2e"
    Name = "Bound (3) < (4) with |F| = #distinct functions"
    Source = "seed 000 Q2.5 (refinement)"
    Statement = "bound (3) also beats bound (4) when |F| counts distinct functions f_w (not parameter vectors)"
    Check = distinctCounterexample
}
