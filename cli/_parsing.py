"""The command line's argument parser (:class:`CommandParser`): a single-valued option is
given once, an old spelling and its new one are one option, a hidden old name matches only
when typed in full, and an argument error is said in one line (:class:`OneLineErrors`); and
the walks over a parser's commands (:func:`command_parsers`, :func:`chosen_parser`)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator


class GivenOnce(argparse.Action):
    """argparse's plain ``store`` action, for options that take one value: the same option
    given again with another value, or with its old name (:func:`cli._common.add_old_name`:
    an action sharing its destination, hidden from help) at all, is refused, naming both.
    The same value twice is harmless and taken. Positional arguments are stored as usual."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string is not None and isinstance(parser, CommandParser):
            parser.take_once(self, option_string, values)
        setattr(namespace, self.dest, values)


def usage_hint(prog: str) -> str:
    """The line said after an argument error of the parser called ``prog``
    (``inpaint-studio inpaint``): where its usage is."""
    return f"(run {prog} --help for the usage)"


class OneLineErrors(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose argument errors (a missing or unknown
    argument, a bad value) are said as every other refusal of the program is: one
    ``error: <reason>`` line, then :func:`usage_hint`, instead of the whole usage block
    and ``PROG: error:``; exit code 2, as argparse's."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n{usage_hint(self.prog)}\n")


class CommandParser(OneLineErrors):
    """An :class:`argparse.ArgumentParser` whose plain options are :class:`GivenOnce` and
    whose abbreviations never name a hidden option (``--m`` in ``watermark`` could match
    ``--mask-out`` or ``--min-images``, not the old ``--margin``: an old name is taken in
    full only). Its commands' parsers are made of this class too, and its argument errors
    are one line (:class:`OneLineErrors`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, GivenOnce)
        self.register("action", "store", GivenOnce)
        self._given: dict[str, tuple[argparse.Action, str, object]] = {}

    def parse_known_args(self, args=None, namespace=None):
        self._given = {}  # destination -> (action, option string, value) of this parse
        return super().parse_known_args(args, namespace)

    def take_once(self, action: argparse.Action, option_string: str, value: object) -> None:
        """Note that ``option_string`` (of ``action``) gave ``value``; raise
        :class:`argparse.ArgumentError` (a usage error of this parser) when its destination
        was already given another way or another value."""
        earlier = self._given.get(action.dest)
        self._given[action.dest] = (action, option_string, value)
        if earlier is None:
            return
        first_action, first_string, first_value = earlier
        if first_action is not action:
            old, new = ((first_string, option_string) if first_action.help == argparse.SUPPRESS
                        else (option_string, first_string))
            raise argparse.ArgumentError(None, f"{old} is the old name of {new}; give one of "
                                               "them")
        if first_value != value:
            raise argparse.ArgumentError(None, f"{option_string} given twice ({first_value} "
                                               f"and {value}); give it once")

    def _get_option_tuples(self, option_string):
        # the options an abbreviation may mean, without the hidden ones (old names)
        return [found for found in super()._get_option_tuples(option_string)
                if found[0].help != argparse.SUPPRESS]


def _commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((action for action in parser._actions
                 if isinstance(action, argparse._SubParsersAction)), None)


def command_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parsers of ``parser``'s commands and of theirs, at every depth (``train``, then
    ``train semantic``), each once."""
    commands = _commands(parser)
    if commands is None:
        return
    seen: set[int] = set()
    for command in commands.choices.values():  # an alias names a parser again
        if id(command) not in seen:
            seen.add(id(command))
            yield command
            yield from command_parsers(command)


def chosen_parser(parser: argparse.ArgumentParser,
                  args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost parser of the command ``args`` (parsed by ``parser``) chose:
    ``models download``'s for ``models download ID``, ``parser`` itself with no command."""
    while (commands := _commands(parser)) is not None:
        name = getattr(args, commands.dest, None)
        if name is None:
            break
        parser = commands.choices[name]
    return parser
