from threadlint.registry import Rule


class UnusedSuppression(Rule):
    """## What it does
    Reports `threadlint:` suppression comments that suppress nothing, and ones
    that are malformed: an unknown directive, a missing or unknown rule id, a
    missing reason, an `enable[...]` without a preceding `disable[...]`, or a
    `disable[...]` that is never re-enabled (it then applies to the end of the
    file, and says so).

    ## Why is this bad
    A suppression outlives the finding it silenced: once the code is fixed or
    moved, a stale comment hides the next real finding on that line and tells
    readers that a problem exists where none does.  A malformed one silences
    nothing while its author believes it does.  A suppression without a reason
    cannot be reviewed.

    ## Example
    ```c
    /* threadlint: ignore[TL102] the lock is only taken at startup */
    counter++;                 /* no TL102 finding here any more: TL001 */

    // threadlint: ignore[TL102]      missing reason: TL001
    // threadlint: ignroe[TL102] x    unknown directive: TL001
    ```

    ## How to fix
    Delete the suppression when it no longer matches a finding; otherwise
    correct its syntax: `/* threadlint: ignore[TL102] why this is fine */` on
    the line of the finding or the line before, or a
    `threadlint: disable[TL101] reason` ... `threadlint: enable[TL101]` range.
    See docs/suppressions.md.

    ## Configuration
    `require_reason = false` in the configuration file stops reporting
    suppressions without a reason.  A suppression is judged unused only for the
    rules that ran, and only against the configurations given: run with every
    build configuration before deleting one that seems unused.  The report
    itself can be silenced with `ignore[TL001]` like any other.
    """

    id = "TL001"
    name = "unused-suppression"
    summary = "Suppression comment that matches no finding, or is malformed"
    severity = "warning"
    precision = "high"
    scope = "project"
    # Findings come from threadlint.suppress.apply (after every other rule has
    # run), not from a check_* method: a rule cannot see the other rules' findings.
