// Package flagenv reads a command's flags from its command line and from the
// environment, the same way in every sendgate command.
//
// Each flag --some-name can also be set as the variable <prefix>SOME_NAME
// (upper case, dashes as underscores); the prefix is Prefix ("SENDGATE_")
// for every command but the Desk console's ("DESK_"). One precedence rule:
//
//  1. a flag given on the command line wins;
//  2. otherwise a non-empty variable sets it (an empty variable is the same
//     as an unset one, and the value of a variable whose flag is on the
//     command line is not even read);
//  3. otherwise the flag keeps its default.
//
// Errors name where the value came from (Where): "--brokers" for the
// command line, "SENDGATE_BROKERS (--brokers)" for the environment.
// ConfigError rewrites a library's "<pkg>: <field>: <reason>" errors that
// way, so that the libraries' messages name fields, not flags. Unknown lists
// the variables with the prefix that name no flag (a typo, most likely).
//
// The processor reads a variable for every flag. loadgen, sgctl and
// healthcheck share its prefix and read (Only) just the processor's
// variables that mean the same to them: SENDGATE_BROKERS and the topic
// names, or SENDGATE_HTTP_ADDR.
package flagenv
