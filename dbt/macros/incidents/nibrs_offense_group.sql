{#-
    NIBRS offense group of an offense code, from the code itself (FBI NIBRS User Manual,
    offense codes): Group B is the 90 series (90A-90J, and 90Z "All Other Offenses", which NIBRS
    lists in Group B too); Group A is the closed list below (including the 2021 additions 26G,
    26H, 11D... and the federal-only codes). A code on neither list, or no code (SLMPD's
    "UNFOUNDED INCIDENT" lines), is 'unknown', so a typo never passes as a group.
-#}
{% macro nibrs_offense_group(code_column) -%}
    case
        when upper(trim({{ code_column }})) in (
            '90A', '90B', '90C', '90D', '90E', '90F', '90G', '90H', '90I', '90J', '90Z'
        ) then 'group_b'
        when upper(trim({{ code_column }})) in (
            '09A', '09B', '09C', '100', '101', '103', '11A', '11B', '11C', '11D', '120',
            '13A', '13B', '13C', '200', '210', '220', '23A', '23B', '23C', '23D', '23E',
            '23F', '23G', '23H', '240', '250', '26A', '26B', '26C', '26D', '26E', '26F',
            '26G', '26H', '270', '280', '290', '30A', '30B', '30C', '30D', '35A', '35B',
            '36A', '36B', '370', '39A', '39B', '39C', '39D', '40A', '40B', '40C', '49A',
            '49B', '49C', '510', '520', '521', '522', '526', '58A', '58B', '61A', '61B',
            '620', '64A', '64B', '720'
        ) then 'group_a'
        else 'unknown'
    end
{%- endmacro %}
