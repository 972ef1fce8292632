/// Seed 000 Q5: f_W(x) = φ(Wx) with φ injective componentwise is equivariant to a permutation group H
/// iff W[i, j] = W[τ(i), τ(j)] for all τ ∈ H. Groups: cyclic shifts, dihedral, full symmetric.
module Dsl.Theory.Equivariance

open System
open System.Collections.Generic
open MathNet.Numerics.LinearAlgebra
open Dsl.Engine

/// A permutation group acting on {0, …, n−1}.
type Group =
    | Cyclic
    | Dihedral
    | Symmetric

/// An injective componentwise nonlinearity.
type Phi =
    | Tanh
    | LeakyRelu

/// Composition (a ∘ b)(i) = a(b(i)).
let compose (a: int[]) (b: int[]) = Array.init a.Length (fun i -> a.[b.[i]])

/// The inverse permutation.
let inverse (a: int[]) =
    let inv = Array.zeroCreate a.Length in
    (a |> Array.iteri (fun i v -> inv.[v] <- i))
    inv

/// Generators: the shift i ↦ i+1; plus the reflection i ↦ −i (dihedral); or a transposition and the
/// n-cycle (symmetric).
let generators (g: Group) (n: int) : int[] list =
    let shift = Array.init n (fun i -> (i + 1) % n)
    match g with
    | Cyclic -> [ shift ]
    | Dihedral -> [ shift; Array.init n (fun i -> (n - i) % n) ]
    | Symmetric -> [
        shift
        Array.init n (fun i ->
            if i = 0 then 1
            elif i = 1 then 0
            else i)
      ]

/// All elements, by closing the generators under composition.
let elements (g: Group) (n: int) : int[] list =
    let seen = HashSet<string>()
    let key (p: int[]) = String.Join(",", p)
    let id = Array.init n id
    let result = List<int[]>()
    let queue = Queue<int[]>([ id ])
    seen.Add(key id) |> ignore
    while queue.Count > 0 do
        let p = queue.Dequeue()
        result.Add p
        for s in generators g n do
            let q = compose s p
            if seen.Add(key q) then queue.Enqueue q
    List.ofSeq result

/// τ acting on a matrix of row vectors: (τ·x)[τ(i)] = x[i], i.e. column j of the result is column τ⁻¹(j).
let act (tau: int[]) (x: Tensor) : Tensor = x.IndexSelect(1L, Engine.indices (inverse tau))

/// f_W on the rows of x (engine, float64).
let f (phi: Phi) (w: Tensor) (x: Tensor) : Tensor =
    let y = Functional.Linear(x, w)
    match phi with
    | Tanh -> Functional.Tanh y
    | LeakyRelu -> Functional.LeakyRelu(y, 0.1)

/// The orbit average W̄[i, j] = (1/|H|) Σ_τ W[τ(i), τ(j)], which satisfies the condition.
let average (els: int[] list) (w: Matrix<float>) : Matrix<float> =
    let n = w.RowCount
    Matrix<float>.Build.Dense(n, n, fun i j -> els |> List.averageBy (fun t -> w.[t.[i], t.[j]]))

/// max over τ ∈ H and (i, j) of |W[τ(i), τ(j)] − W[i, j]|: 0 iff W satisfies the condition.
let conditionDefect (els: int[] list) (w: Matrix<float>) =
    let n = w.RowCount
    els
    |> List.map (fun t ->
        Seq.max (
            seq {
                for i in 0 .. n - 1 do
                    for j in 0 .. n - 1 -> abs (w.[t.[i], t.[j]] - w.[i, j])
            }
        ))
    |> List.max

/// max over τ ∈ H and rows of x of |f(τx) − τf(x)|, and a rounding tolerance for it.
let equivarianceDefect (phi: Phi) (els: int[] list) (w: Matrix<float>) (x: Matrix<float>) : float * float =
    Engine.scoped (fun () ->
        let wt, xt = Engine.ofMatrix w, Engine.ofMatrix x
        let fx = f phi wt xt
        let defect = els |> List.map (fun t -> (f phi wt (act t xt) - act t fx).Abs().Max().ToDouble()) |> List.max
        let scale = (w.PointwiseAbs() * x.PointwiseAbs().Transpose()).Enumerate() |> Seq.max
        defect, Tolerance.rounding w.RowCount scale)

/// A group, a size, a nonlinearity and a seed.
type Case = { Group: Group; N: int; Phi: Phi; Seed: int }

let describe (c: Case) = sprintf "%A group on %d points, φ = %A, seed=%d" c.Group c.N c.Phi c.Seed

/// A random case: cyclic and dihedral on 2 … 8 points, symmetric on 2 … 5.
let random (r: Random) : Case =
    let g = Draw.pick r [| Cyclic; Dihedral; Symmetric |]
    { Group = g; N = (if g = Symmetric then Draw.int r 2 5 else Draw.int r 2 8); Phi = Draw.pick r [| Tanh; LeakyRelu |]; Seed = r.Next() }

let private gaussian (r: Random) rows cols (scale: float) = Matrix<float>.Build.Dense(rows, cols, fun _ _ -> scale * Draw.normal r)

/// (⇐) The orbit average of a random W satisfies the condition and f is equivariant on 20 random x for
/// every τ ∈ H, up to rounding.
let checkSufficient (_family: int) (c: Case) : Verdict =
    let r = Random(c.Seed)
    let els = elements c.Group c.N
    let w = average els (gaussian r c.N c.N (1.0 / sqrt (float c.N)))
    let x = gaussian r 20 c.N 1.0
    let defect, tol = equivarianceDefect c.Phi els w x
    Verdict.headline [
        Verdict.exact "max |f(τx) − τf(x)| (W averaged over H)" 0.0 defect tol (20 * els.Length)
        Verdict.exact "condition defect of W̄" 0.0 (conditionDefect els w) (Tolerance.rounding els.Length 1.0) els.Length
    ]
    |> Verdict.note (sprintf "|H| = %d" els.Length)

/// Searches for an x with f(τx) ≠ τf(x): first 5 random x, then the basis vectors eⱼ (one of which must
/// work when W·P_τ ≠ P_τ·W, since φ is injective). Returns the witness and how it was found.
let findWitness (phi: Phi) (els: int[] list) (w: Matrix<float>) (r: Random) : (string * float) option =
    let n = w.RowCount
    let trial (label: string) (x: Matrix<float>) =
        let defect, tol = equivarianceDefect phi els w x
        if defect > 1000.0 * tol then Some(label, defect) else None
    let randoms = seq { for i in 1..5 -> trial (sprintf "random x #%d" i) (gaussian r 1 n 1.0) }
    let basis = seq { for j in 0 .. n - 1 -> trial (sprintf "e_%d" j) (Matrix<float>.Build.Dense(1, n, fun _ k -> if k = j then 1.0 else 0.0)) }
    Seq.append randoms basis |> Seq.tryPick id

/// (⇒) Any W violating the condition has a witness x: tried on an equivariant W̄ with one entry changed
/// by δ ∈ ±[0.1, 1] (the smallest kind of violation) and on a generic random W.
let checkNecessary (_family: int) (c: Case) : Verdict =
    let r = Random(c.Seed)
    let els = elements c.Group c.N
    let wBar = average els (gaussian r c.N c.N (1.0 / sqrt (float c.N)))
    let perturbed = wBar.Clone()
    let i, j = r.Next c.N, r.Next c.N
    perturbed.[i, j] <- perturbed.[i, j] + (if r.Next 2 = 0 then 1.0 else -1.0) * Draw.uniform r 0.1 1.0
    let candidates = [ sprintf "W̄ with W[%d,%d] changed" i j, perturbed; "random W", gaussian r c.N c.N (1.0 / sqrt (float c.N)) ]
    let results = [
        for name, w in candidates ->
            let violates = conditionDefect els w > 1e-9
            name, violates, (if violates then findWitness c.Phi els w r else None)
    ]
    match results |> List.tryFind (fun (_, v, wit) -> v && wit.IsNone) with
    | Some(name, _, _) -> Verdict.fail (sprintf "%s violates the condition but no x was found" name) 1.0 0.0 ""
    | None ->
        let violating = results |> List.filter (fun (_, v, _) -> v)
        Verdict.exact "violating W with a witness x" (float violating.Length) (float (violating |> List.filter (fun (_, _, w) -> w.IsSome) |> List.length)) 0.0 violating.Length
        |> Verdict.note (results |> List.choose (fun (name, _, w) -> w |> Option.map (fun (how, d) -> sprintf "%s: %s, |Δ| = %.3g" name how d)) |> String.concat "; ")

/// Dimension of {W : W[τ(i), τ(j)] = W[i, j] ∀τ} as n² − rank of the stacked constraints (one per generator and entry).
let commutantDimension (g: Group) (n: int) : int =
    let gens = generators g n
    let m = Matrix<float>.Build.Dense(gens.Length * n * n, n * n)
    gens
    |> List.iteri (fun gi t ->
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                let row = gi * n * n + i * n + j
                m.[row, t.[i] * n + t.[j]] <- m.[row, t.[i] * n + t.[j]] + 1.0
                m.[row, i * n + j] <- m.[row, i * n + j] - 1.0)
    n * n - m.Rank()

/// Burnside: the number of orbits of H on pairs (i, j) is (1/|H|) Σ_τ fix(τ)².
let burnside (g: Group) (n: int) : float =
    let els = elements g n
    els |> List.averageBy (fun t -> let f = t |> Array.indexed |> Array.filter (fun (i, v) -> i = v) |> Array.length in float (f * f))

/// The dimension formulas: cyclic n, dihedral ⌊n/2⌋ + 1, symmetric 2.
let dimensionFormula (g: Group) (n: int) =
    match g with
    | Cyclic -> n
    | Dihedral -> n / 2 + 1
    | Symmetric -> if n = 1 then 1 else 2

/// The space of equivariant W: its dimension (nullity of the constraints) equals Burnside's orbit count
/// and the formula for the group.
let checkDimension (_family: int) (c: Case) : Verdict =
    let dim = commutantDimension c.Group c.N
    Verdict.headline [
        Verdict.exact "dim of equivariant W (nullity)" (float (dimensionFormula c.Group c.N)) (float dim) 0.0 (c.N * c.N)
        Verdict.exact "Burnside orbit count on pairs" (float dim) (burnside c.Group c.N) 1e-9 1
    ]

/// The circulant matrix W[i, j] = c[(j − i) mod n].
let circulant (coeffs: float[]) =
    let n = coeffs.Length
    Matrix<float>.Build.Dense(n, n, fun i j -> coeffs.[((j - i) % n + n) % n])

/// For the cyclic group the equivariant W are exactly the circulant matrices, i.e. circular 1-D
/// convolutions: the orbit average of a random W is circulant, a random circulant satisfies the
/// condition, the space has dimension n (= number of circulant coefficients), and W·x equals the
/// engine's conv1d of x (circularly padded) with the coefficients, on random x.
let checkCirculant (_family: int) (c: Case) : Verdict =
    let r = Random(c.Seed)
    let n = c.N
    let els = elements Cyclic n
    let wBar = average els (gaussian r n n 1.0)
    let firstRow = Array.init n (fun j -> wBar.[0, j])
    let circDefect = (wBar - circulant firstRow).Enumerate() |> Seq.map abs |> Seq.max
    let coeffs = Draw.normals r n
    let w = circulant coeffs
    let x = gaussian r 8 n 1.0
    let convDefect =
        Engine.scoped (fun () ->
            let xt = Engine.ofMatrix x
            let padded = Functional.Pad(xt.Unsqueeze(1L), [| 0L; int64 (n - 1) |], PadMode.Circular)
            let y = Functional.Conv1d(padded, Engine.tensor [ 1L; 1L; int64 n ] coeffs).Squeeze(1L)
            (y - Functional.Linear(xt, Engine.ofMatrix w)).Abs().Max().ToDouble())
    let scale = (coeffs |> Array.sumBy abs) * (x.Enumerate() |> Seq.map abs |> Seq.max)
    Verdict.headline [
        Verdict.exact "max |W·x − conv1d(x, c)| (circulant W)" 0.0 convDefect (Tolerance.rounding n scale) 8
        Verdict.exact "orbit average − circulant" 0.0 circDefect (Tolerance.rounding els.Length 4.0) (n * n)
        Verdict.exact "condition defect of a circulant" 0.0 (conditionDefect els w) 0.0 (n * n)
        Verdict.exact "dim of cyclic-equivariant W" (float n) (float (commutantDimension Cyclic n)) 0.0 (n * n)
    ]

let claimSufficient: Claim = {
    Id = "6a"
    Name = "Equivariance (⇐): W[τi,τj] = W[i,j]"
    Source = "seed 000 Q5"
    Statement = "if W[i,j] = W[τ(i),τ(j)] ∀τ ∈ H then f_W(τx) = τf_W(x) (cyclic, dihedral, symmetric groups; φ = tanh, leaky ReLU)"
    Check = fun () -> Sweep.run 30 601 random describe checkSufficient
}

let claimNecessary: Claim = {
    Id = "6b"
    Name = "Equivariance (⇒): violations have witnesses"
    Source = "seed 000 Q5"
    Statement = "if W violates W[i,j] = W[τ(i),τ(j)] for some τ ∈ H, some x has f_W(τx) ≠ τf_W(x) (φ injective)"
    Check = fun () -> Sweep.run 30 602 random describe checkNecessary
}

let claimCirculant: Claim = {
    Id = "6c"
    Name = "Cyclic-equivariant W = circulant = conv1d"
    Source = "seed 000 Q5"
    Statement = "for the cyclic group the equivariant W are exactly the circulant matrices, i.e. circular 1-D convolutions"
    Check = fun () -> Sweep.run 12 603 (fun r -> { random r with Group = Cyclic; N = Draw.int r 2 12 }) describe checkCirculant
}

let claimDimension: Claim = {
    Id = "6d"
    Name = "Dimension of equivariant W"
    Source = "seed 000 Q5"
    Statement = "dim{W equivariant} = #orbits of H on pairs (Burnside) = n (cyclic), ⌊n/2⌋+1 (dihedral), 2 (symmetric)"
    Check = fun () -> Sweep.run 30 604 random describe checkDimension
}
