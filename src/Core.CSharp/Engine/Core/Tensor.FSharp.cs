namespace Dsl.Engine;

// Static members that F#'s generic math functions resolve by name, so that exp x, log x, sqrt x,
// abs x, tanh x, x ** 2.0 ... work on tensors in F# without any Dsl-specific function names.
public sealed partial class Tensor
{
    /// <summary>eˣ (F#'s <c>exp</c>).</summary>
    public static Tensor Exp(Tensor x) => x.Exp();
    /// <summary>Natural logarithm (F#'s <c>log</c>).</summary>
    public static Tensor Log(Tensor x) => x.Log();
    /// <summary>Base-10 logarithm (F#'s <c>log10</c>).</summary>
    public static Tensor Log10(Tensor x) => x.Log10();
    /// <summary>√x (F#'s <c>sqrt</c>).</summary>
    public static Tensor Sqrt(Tensor x) => x.Sqrt();
    /// <summary>|x| (F#'s <c>abs</c>).</summary>
    public static Tensor Abs(Tensor x) => x.Abs();
    /// <summary>Sine (F#'s <c>sin</c>).</summary>
    public static Tensor Sin(Tensor x) => x.Sin();
    /// <summary>Cosine (F#'s <c>cos</c>).</summary>
    public static Tensor Cos(Tensor x) => x.Cos();
    /// <summary>Tangent (F#'s <c>tan</c>).</summary>
    public static Tensor Tan(Tensor x) => x.Tan();
    /// <summary>Hyperbolic tangent (F#'s <c>tanh</c>).</summary>
    public static Tensor Tanh(Tensor x) => Functional.Tanh(x);
    /// <summary>Rounds down (F#'s <c>floor</c>).</summary>
    public static Tensor Floor(Tensor x) => x.Floor();
    /// <summary>Rounds up (F#'s <c>ceil</c>).</summary>
    public static Tensor Ceiling(Tensor x) => x.Ceil();
    /// <summary>Rounds half to even (F#'s <c>round</c>).</summary>
    public static Tensor Round(Tensor x) => x.Round();
    /// <summary>xᵉ (F#'s <c>**</c>).</summary>
    public static Tensor Pow(Tensor x, double exponent) => x.Pow(exponent);
    /// <summary>xʸ elementwise (F#'s <c>**</c>).</summary>
    public static Tensor Pow(Tensor x, Tensor y) => x.Pow(y);
}
