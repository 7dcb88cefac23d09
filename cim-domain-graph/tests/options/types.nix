# A small stand-in for the module system's option checking, for tests without nixpkgs: option
# declarations with the types nixpkgs and nix-darwin give them, and `check`, which lists every
# value of a configuration that no option declares or that its option's type refuses.
rec {
  inherit (builtins) isAttrs isList isBool isString isInt isFunction attrNames concatLists;

  mkOption = type: { _option = true; inherit type; };

  leaf = name: valid: {
    inherit name;
    errors = path: v:
      if valid v then [ ] else [ "${path}: not a ${name} (got a ${builtins.typeOf v})" ];
  };

  bool = leaf "boolean" isBool;
  str = leaf "string" isString;
  int = leaf "signed integer" isInt;
  port = leaf "16 bit unsigned integer" (v: isInt v && v >= 0 && v <= 65535);
  path = leaf "path" (v: builtins.isPath v || (isString v && builtins.substring 0 1 v == "/"));
  enum = values: leaf "one of ${builtins.toJSON values}" (v: builtins.elem v values);

  nullOr = t: {
    name = "null or ${t.name}";
    errors = path: v: if v == null then [ ] else t.errors path v;
  };

  either = a: b: {
    name = "${a.name} or ${b.name}";
    errors = path: v: if a.errors path v == [ ] then [ ] else b.errors path v;
  };

  listOf = t: {
    name = "list of ${t.name}";
    errors = path: v:
      if isList v then
        concatLists (builtins.genList (i: t.errors "${path}.${toString i}" (builtins.elemAt v i))
          (builtins.length v))
      else [ "${path}: not a list" ];
  };

  attrsOf = t: {
    name = "attribute set of ${t.name}";
    errors = path: v:
      if isAttrs v then concatLists (map (n: t.errors "${path}.${n}" v.${n}) (attrNames v))
      else [ "${path}: not an attribute set" ];
  };

  # `functionTo t`, checked by applying the function to `sample`.
  functionTo = t: sample: {
    name = "function that evaluates to a ${t.name}";
    errors = path: v:
      if isFunction v then t.errors "${path} <sample>" (v sample)
      else [ "${path}: not a function" ];
  };

  # `declarations`, or a module function `{ name, ... }: { options = ...; }` as nixpkgs takes.
  submodule = declarations: {
    name = "submodule";
    errors = path: v:
      check path
        (if isFunction declarations then (declarations { name = "<name>"; }).options
         else declarations)
        v;
  };

  package = leaf "package" (v: isAttrs v || (isString v && builtins.substring 0 11 v == "/nix/store/"));

  # Every problem of `value` against `declarations`, as strings naming the option path.
  check = prefix: declarations: value:
    if !isAttrs value then [ "${prefix}: not an attribute set" ]
    else concatLists (map (name:
      let
        at = if prefix == "" then name else "${prefix}.${name}";
        declared = declarations.${name} or null;
      in
      if declared == null then
        (if declarations ? _freeformType then declarations._freeformType.errors at value.${name}
         else [ "${at}: no such option" ])
      else if declared ? _option then declared.type.errors at value.${name}
      else check at declared value.${name}) (attrNames value));

  # Just the part of nixpkgs' `lib` generated modules and the shipped modules use; `mkOption`
  # and `types` give the declarations above.
  lib = {
    mkOption = o: mkOption o.type;
    types = { inherit bool str int port path enum nullOr either listOf attrsOf submodule package; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    optionals = c: l: if c then l else [ ];
    inherit (builtins) attrNames;
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (attrNames set));
    concatStrings = builtins.concatStringsSep "";
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    escapeShellArg = a: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] a + "'";
    getExe = x: "${x.outPath}/bin/${x.meta.mainProgram}";
    getName = x:
      let parse = drv: (builtins.parseDrvName drv).name;
      in if isString x then parse x else x.pname or (parse x.name);
  };

  # Just the packages and builders generated modules use, as store paths.
  pkgs = {
    nats-server = { outPath = "/nix/store/0000-nats-server"; meta.mainProgram = "nats-server"; };
    writeText = name: text:
      assert isString text; "/nix/store/0000-${name}";
  };
}
