/// Command-line overrides for experiment scripts: `--name value` pairs checked against the options a
/// script declares, so an unknown option is an error that lists the valid ones.
module Analysis.ScriptArgs

open System

/// An option a script accepts: its name (without dashes), its default and what it means.
type OptionSpec = { Name: string; Default: string; Help: string }

/// Parses `--name value` pairs; every declared option gets its default unless given. Raises
/// ArgumentException naming the offending word and listing the valid options.
let parse (specs: OptionSpec list) (argv: string list) : Map<string, string> =
    let valid () = specs |> List.map (fun s -> $"--{s.Name} ({s.Help}; default {s.Default})") |> String.concat ", "
    let rec go (acc: Map<string, string>) args =
        match args with
        | [] -> acc
        | (name: string) :: value :: rest when name.StartsWith "--" && specs |> List.exists (fun s -> "--" + s.Name = name) ->
            go (acc.Add(name.Substring 2, value)) rest
        | [ name ] when specs |> List.exists (fun s -> "--" + s.Name = name) ->
            raise (ArgumentException($"option {name} needs a value; valid options: {valid ()}"))
        | word :: _ -> raise (ArgumentException($"unknown option '{word}'; valid options: {valid ()}"))
    go (specs |> List.map (fun s -> s.Name, s.Default) |> Map.ofList) argv

/// An integer option, with the option named in the error.
let int (options: Map<string, string>) name =
    match Int32.TryParse(options[name], Globalization.NumberStyles.Integer, Globalization.CultureInfo.InvariantCulture) with
    | true, v -> v
    | _ -> raise (ArgumentException($"--{name} must be an integer, got '{options[name]}'"))

/// The arguments after the script name of a `dotnet fsi script.fsx ...` call.
let scriptArguments (commandLineArgs: string array) = commandLineArgs |> Array.toList |> List.tail
