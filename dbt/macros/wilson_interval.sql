{#-
    Wilson score interval of a binomial proportion successes / trials (METHODS.md 4 and 5).
    Chosen over the Wald interval because search and hit rates are often near 0 with small
    denominators, where Wald gives negative bounds. Null when trials is 0 or null.
    wilson_interval('10', '100', 'lower') -> 0.0552, 'upper' -> 0.1744.
-#}
{% macro wilson_interval(successes, trials, bound, z=1.959963984540054) -%}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("wilson_interval: bound must be 'lower' or 'upper', got " ~ bound) }}
    {%- endif -%}
    {%- set sign = '-' if bound == 'lower' else '+' -%}
    {%- set proportion = 'cast(' ~ successes ~ ' as double precision) / (' ~ trials ~ ')' -%}
    case
        when ({{ trials }}) > 0 then
            {{ 'greatest' if bound == 'lower' else 'least' }}(
                {{ 0.0 if bound == 'lower' else 1.0 }},
                (
                    {{ proportion }} + {{ z * z }} / (2.0 * ({{ trials }}))
                    {{ sign }} {{ z }} * sqrt(
                        {{ proportion }} * (1.0 - {{ proportion }}) / ({{ trials }})
                        + {{ z * z }} / (4.0 * ({{ trials }}) * ({{ trials }}))
                    )
                ) / (1.0 + {{ z * z }} / ({{ trials }}))
            )
    end
{%- endmacro %}
