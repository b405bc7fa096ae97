/// Running FsCheck 3 properties from xunit facts (FsCheck.Xunit is not on the mirror): a failure throws with the
/// replay seed, EXPRGRAD_FSCHECK_REPLAY=seed,gamma replays it and EXPRGRAD_PROPERTY_SCALE=k runs k times longer.
module ExprGrad.Symbolic.Tests.Check

open System
open System.Globalization
open System.Text.RegularExpressions
open FsCheck
open Xunit.Sdk

let private replayVariable = "EXPRGRAD_FSCHECK_REPLAY"

/// The case count, multiplied by EXPRGRAD_PROPERTY_SCALE when it is set.
let scaled (cases: int) =
    match Int32.TryParse(Environment.GetEnvironmentVariable "EXPRGRAD_PROPERTY_SCALE", NumberStyles.Integer, CultureInfo.InvariantCulture) with
    | true, k when k > 0 -> cases * k
    | _ -> cases

let private replay () =
    match Environment.GetEnvironmentVariable replayVariable with
    | null -> None
    | text when String.IsNullOrWhiteSpace text -> None
    | text ->
        let parts = text.Split(',') |> Array.map (fun p -> UInt64.Parse(p.Trim(), CultureInfo.InvariantCulture))
        let size = if parts.Length > 2 then Some(int parts[2]) else None
        Some { Rnd = Rnd(parts[0], parts[1]); Size = size }

/// Checks a property on `cases` random cases; on failure throws an xunit failure naming the property and how to replay it.
let property (name: string) (cases: int) (property: Property) =
    let config =
        Config.QuickThrowOnFailure
            .WithName(name)
            .WithMaxTest(scaled cases)
            .WithMaxRejected(scaled cases)
            .WithQuietOnSuccess(true)
            .WithReplay(replay ())
    try
        Check.One(config, property)
    with
    | :? XunitException -> reraise ()
    | e ->
        let run = Regex.Match(e.Message, @"\((\d+),\s*(\d+)\)")
        let how =
            if run.Success then $"Replay: set {replayVariable}={run.Groups[1].Value},{run.Groups[2].Value} and rerun this test."
            else $"Replay: set {replayVariable}=seed,gamma from the message below and rerun this test."
        raise (XunitException($"Property '{name}' failed. {how}\n{e.Message}"))
