{#-
    Ratio of two proportions, (a / n1) / (b / n2), and its 95% interval on the log scale
    (Katz): exp(ln(ratio) -/+ z * SE), SE = sqrt(1/a - 1/n1 + 1/b - 1/n2) (METHODS.md 3).
    The interval is null when a or b is 0 (the log is undefined) or when SE^2 is negative, which
    happens only when a count exceeds its denominator (stops outnumbering residents).
    log_ratio_interval('40', '200', '20', '200', 'lower') -> 1.2134, 'upper' -> 3.2964.
-#}
{% macro rate_ratio(a, n1, b, n2) -%}
    case
        when ({{ n1 }}) > 0 and ({{ n2 }}) > 0 and ({{ b }}) > 0 then
            (cast({{ a }} as double precision) / ({{ n1 }}))
            / (cast({{ b }} as double precision) / ({{ n2 }}))
    end
{%- endmacro %}

{% macro log_ratio_interval(a, n1, b, n2, bound, z=1.959963984540054) -%}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("log_ratio_interval: bound must be 'lower' or 'upper', got " ~ bound) }}
    {%- endif -%}
    {%- set variance -%}
        (1.0 / ({{ a }}) - 1.0 / ({{ n1 }}) + 1.0 / ({{ b }}) - 1.0 / ({{ n2 }}))
    {%- endset -%}
    case
        when ({{ a }}) > 0 and ({{ b }}) > 0 and ({{ n1 }}) > 0 and ({{ n2 }}) > 0
            and {{ variance }} >= 0 then
            {{ rate_ratio(a, n1, b, n2) }}
            * exp({{ '-' if bound == 'lower' else '' }}{{ z }} * sqrt({{ variance }}))
    end
{%- endmacro %}

{#-
    Ratio of two Poisson rates, (a / n1) / (b / n2) with the exposures n1 and n2 taken as fixed
    (residents, arrests, stops), and its 95% interval on the log scale:
    exp(ln(ratio) -/+ z * sqrt(1/a + 1/b)). Unlike the binomial (Katz) form it holds when a
    exceeds n1 (more force reports than arrests in a small group, more stops than residents).
    Null when a or b is 0. poisson_ratio_interval('40', '1000', '20', '1000', 'lower') -> 1.1693.
-#}
{% macro poisson_ratio_interval(a, n1, b, n2, bound, z=1.959963984540054) -%}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("poisson_ratio_interval: bound must be 'lower' or 'upper', got " ~ bound) }}
    {%- endif -%}
    case
        when ({{ a }}) > 0 and ({{ b }}) > 0 and ({{ n1 }}) > 0 and ({{ n2 }}) > 0 then
            {{ rate_ratio(a, n1, b, n2) }}
            * exp({{ '-' if bound == 'lower' else '' }}{{ z }} * sqrt(1.0 / ({{ a }}) + 1.0 / ({{ b }})))
    end
{%- endmacro %}
