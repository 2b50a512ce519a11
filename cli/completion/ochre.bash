# bash completion for ochre: commands, each command's options (read from
# `ochre COMMAND --help`), option values, and keys from the state (`ochre state list`).
# Installed to share/bash-completion/completions/ochre.

_ochre_keys() {
  # The state's keys: the first column of `ochre state list`, without its header. The
  # --state and --workspace already on the line are passed on.
  local i args=()
  for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
    case ${COMP_WORDS[i]} in
      --state|--workspace) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
      --state=*|--workspace=*) args+=("${COMP_WORDS[i]}") ;;
    esac
  done
  "${COMP_WORDS[0]}" state list "${args[@]}" 2>/dev/null | awk 'NR > 1 && NF > 1 { print $1 }'
}

_ochre() {
  local cur prev cmd i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local ochre=${COMP_WORDS[0]}
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$("$ochre" --help 2>/dev/null | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+' | sort -u)" -- "$cur"))
    fi
    return
  fi
  case $prev in
    --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "dot mermaid" -- "$cur")); return ;;
    --executor) COMPREPLY=($(compgen -W "local slurm" -- "$cur")); return ;;
    --target|--replace|--exclude) COMPREPLY=($(compgen -W "$(_ochre_keys)" -- "$cur")); return ;;
    --state|--from|--to) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --workspace|--port|--host|--limit|--every|--cron|--timeout|--lock-timeout|--notify|--notify-timeout|-j|--jobs) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$("$ochre" "$cmd" --help 2>/dev/null | grep -oE '^  -[-a-zA-Z]+(, --[-a-z]+)?' | tr -d ',')" -- "$cur"))
    return
  fi
  # The words after the command, options and their values aside.
  local words=() skip=
  for ((i = i + 1; i < COMP_CWORD; i++)); do
    if [[ -n $skip ]]; then skip=; continue; fi
    case ${COMP_WORDS[i]} in
      --*=*) ;;
      --state|--workspace|--from|--to|--color|--format|--executor|--target|--replace|--exclude|--port|--host|--limit|--every|--cron|--timeout|--lock-timeout|--notify|--notify-timeout|-j|--jobs) skip=1 ;;
      -*) ;;
      *) words+=("${COMP_WORDS[i]}") ;;
    esac
  done
  case $cmd in
    state)
      case ${#words[@]} in
        0) COMPREPLY=($(compgen -W "list show rm mv migrate" -- "$cur")) ;;
        *) case ${words[0]} in
             show|rm|mv) COMPREPLY=($(compgen -W "$(_ochre_keys)" -- "$cur")) ;;
             migrate) COMPREPLY=($(compgen -f -- "$cur")) ;;
           esac ;;
      esac ;;
    history) COMPREPLY=($(compgen -W "$(_ochre_keys)" -- "$cur")) ;;
    explain|enter|destroy|import)
      if [[ ${#words[@]} -eq 0 ]]; then COMPREPLY=($(compgen -f -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_ochre_keys)" -- "$cur")); fi ;;
    log) ;;
    *) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}

complete -o filenames -F _ochre ochre
