"""Sample essays for tests (written for them; no external data)."""

from __future__ import annotations

TASK2_ESSAY = """Some people believe that universities should focus on practical skills, while others think that academic knowledge matters more. In my opinion, both are important, although practical training deserves more attention than it currently receives.

Firstly, practical skills help graduates find jobs. For example, engineering students who complete internships are often hired faster than those who only studied theory. Moreover, employers value experience because it reduces the cost of training new staff.

On the other hand, theoretical knowledge provides a foundation which allows people to adapt when technology changes. A programmer who understands algorithms can learn a new language quickly, whereas someone who memorised one tool may struggle. Therefore, universities should not abandon academic subjects.

In conclusion, I believe that a balance between the two is the best solution for students, employers and society as a whole. Governments should encourage universities to cooperate with companies so that every course includes some practical experience."""

TASK1_ESSAY = """The line graph illustrates the percentage of households in three countries that owned a car between 1990 and 2020.

Overall, car ownership increased in all three countries, although the rate of growth differed considerably. Germany had the highest figures throughout the period, while India started from a very low base.

In 1990, around 60% of German households owned a car, compared with 35% in Brazil and just 5% in India. Over the next thirty years, the figure for Germany rose steadily to reach 80% in 2020. Brazil saw a similar upward trend, climbing to 55% by 2010, after which it remained stable.

The most dramatic change was in India, where ownership grew slowly until 2005 and then increased sharply to 30% in 2020. Nevertheless, this was still the lowest proportion of the three countries at the end of the period."""

SHORT_TEXT = "This is too short to be an essay."
