{#-
    95% interval of a Poisson count (Byar's approximation to the exact Garwood interval; within
    0.2% of it from 1 event up), used for stops per 1,000 residents: a stop count is an event
    count over a population exposure, not a share of residents (the same person can be stopped
    many times and non-residents are stopped too), so a binomial interval would be wrong.
    Divide by the exposure to get the rate's interval. poisson_interval('10', 'lower') -> 4.787,
    'upper' -> 18.391 (exact: 4.795, 18.390).
-#}
{% macro poisson_interval(events, bound, z=1.959963984540054) -%}
    {%- if bound == 'lower' -%}
        case
            when ({{ events }}) = 0 then 0.0
            when ({{ events }}) > 0 then
                ({{ events }}) * power(
                    1.0 - 1.0 / (9.0 * ({{ events }})) - {{ z }} / (3.0 * sqrt({{ events }})),
                    3
                )
        end
    {%- elif bound == 'upper' -%}
        case
            when ({{ events }}) >= 0 then
                (({{ events }}) + 1) * power(
                    1.0 - 1.0 / (9.0 * (({{ events }}) + 1))
                    + {{ z }} / (3.0 * sqrt(({{ events }}) + 1)),
                    3
                )
        end
    {%- else -%}
        {{ exceptions.raise_compiler_error("poisson_interval: bound must be 'lower' or 'upper', got " ~ bound) }}
    {%- endif -%}
{%- endmacro %}
